package embedded

// The first part of every key names its key space, so domains never
// collide. Each domain keeps to its own:
//
//	"c"     conversations, each under K("c", conv) (see sessions.go):
//	        K("c", conv, "s") -> version, last entry id, session JSON;
//	        K("c", conv, "m", ms, seq) -> transcript entry JSON;
//	        K("c", conv, "d", clientID) -> answered client message id;
//	        K("c", conv, "k") -> empty: the transcript is kept (for the CRM)
//	"layout" the key layout's version (see layout.go)
//	"pm"    pending marks: K("pm", mark) -> when; K("pq", when, mark)
//	"tm"    timers: K("tm", conv, id) -> due; K("tq", due, conv, id)
//	"prog"  playbook versions: K("prog", hash) -> files
//	"sec"   shared token secrets
//	"h..."  the inbox (handoff): queues, claims, presence, agents
//	"crm.." the CRM: records, indexes, feed
//	"ob"    the outbox
//	"fn"    the funnel rollup (see funnels.go): K("fnc", conv) -> its facts (JSON,
//	        expiring); K("fnr", day, playbook, version, variant, counter) -> count
//
// A new key space gets a line here.
