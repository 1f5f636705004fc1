package embedded

// The first part of every key names its key space, so domains never
// collide. Each domain keeps to its own:
//
//	"s"     sessions: K("s", conv) -> version, last entry id, session JSON
//	"m"     transcripts: K("m", conv, ms, seq) -> entry JSON
//	"d"     answered client message ids: K("d", conv, clientID)
//	"pm"    pending marks: K("pm", mark) -> when; K("pq", when, mark)
//	"tm"    timers: K("tm", conv, id) -> due; K("tq", due, conv, id)
//	"prog"  playbook versions: K("prog", hash) -> files
//	"sec"   shared token secrets
//	"h..."  the inbox (handoff): queues, claims, presence, agents
//	"crm.." the CRM: records, indexes, feed
//	"ob"    the outbox
//
// A new key space gets a line here.
