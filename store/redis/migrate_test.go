package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// legacyCRM writes the CRM and webhook outbox in the key layout before
// issue 12: every key under PREFIX{crm}: (the key names of crm/store.go,
// crm/events.go and crm/webhooks.go at that time), as the old code did.
type legacyCRM struct {
	rdb goredis.UniversalClient
	p   string
}

func (l legacyCRM) k(rest string) string { return redisstore.LegacyCRMKey(l.p, rest) }

func (l legacyCRM) recKey(id string) string       { return l.k("r:" + id) }
func (l legacyCRM) listKey(kind crm.Kind) string  { return l.k("list:" + string(kind)) }
func (l legacyCRM) emailKey(email string) string  { return l.k("idx:email:" + email) }
func (l legacyCRM) phoneKey(phone string) string  { return l.k("idx:phone:" + phone) }
func (l legacyCRM) domainKey(dom string) string   { return l.k("idx:domain:" + dom) }
func (l legacyCRM) orgNameKey(name string) string { return l.k("idx:orgname:" + strings.ToLower(name)) }
func (l legacyCRM) idemKey(key string) string     { return l.k("idem:" + key) }
func (l legacyCRM) convKey(conv string) string    { return l.k("conv:" + conv) }
func (l legacyCRM) resultsKey(conv string) string { return l.k("conv:" + conv + ":results") }
func (l legacyCRM) feedKey(id string) string      { return l.k("feed:" + id) }
func (l legacyCRM) chatKey(conv string) string    { return l.k("chat:" + conv) }
func (l legacyCRM) archiveKey(conv string) string { return l.k("transcript:" + conv) }
func (l legacyCRM) rrKey(team string) string      { return l.k("rr:" + team) }
func (l legacyCRM) outboxKey() string             { return l.k("outbox") }
func (l legacyCRM) subsKey() string               { return l.k("webhooks") }
func (l legacyCRM) dueKey() string                { return l.k("deliveries:due") }
func (l legacyCRM) leaseKey() string              { return l.k("deliveries:lease") }
func (l legacyCRM) deadKey() string               { return l.k("deliveries:dead") }
func (l legacyCRM) deliveryKey(id string) string  { return l.k("delivery:" + id) }
func (l legacyCRM) eventKey(id string) string     { return l.k("event:" + id) }
func (l legacyCRM) emittedKey(id string) string   { return l.k("emitted:" + id) }

// legacyData is what the fixture wrote, to read back after the migration.
type legacyData struct {
	convs                        []string
	people, orgs, leads          []string
	emails, phones               []string
	events                       []string // event ids in the old outbox, oldest first
	emitted                      string   // an EmitOnce id marked in the old layout
	sub, pending, dead, rrBefore string
}

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// write fills the old layout as n lead conversations left it: a person,
// an organization and a lead each (indexes, lists, feeds, conversation
// memory, results, chat, archived transcript, idempotency key), the team's
// round robin, a webhook, record.created events in the outbox (half of
// them read by a process that died) and a conversation event marked by
// EmitOnce, a delivery under way with its lease, and a dead letter.
// Everything is deterministic: two writes with the same n are the same.
func (l legacyCRM) write(t *testing.T, n int) legacyData {
	t.Helper()
	ctx := context.Background()
	var d legacyData
	pipe := l.rdb.Pipeline()
	put := func(r *crm.Record) {
		b, _ := json.Marshal(r)
		pipe.Set(ctx, l.recKey(r.ID), b, 0)
		pipe.ZAdd(ctx, l.listKey(r.Kind), goredis.Z{Score: float64(r.CreatedAt.UnixMilli()), Member: r.ID})
	}
	var entries []string // outbox bodies
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		conv := fmt.Sprintf("conv%03d", i)
		email := fmt.Sprintf("p%d@org%d.example", i, i)
		phone := fmt.Sprintf("+4930%07d", i)
		org := &crm.Record{ID: fmt.Sprintf("org_old%03d", i), Kind: crm.KindOrganization, Name: fmt.Sprintf("Org %d", i), Domain: fmt.Sprintf("org%d.example", i), Conversation: conv, CreatedBy: "bot", CreatedAt: at, UpdatedAt: at}
		per := &crm.Record{ID: fmt.Sprintf("per_old%03d", i), Kind: crm.KindPerson, Email: email, Phone: phone, OrganizationID: org.ID, Owner: "agt_sam", OwnerName: "Sam", Teams: []string{"sales"}, Conversation: conv, CreatedBy: "bot", CreatedAt: at, UpdatedAt: at}
		lead := &crm.Record{ID: fmt.Sprintf("lea_old%03d", i), Kind: crm.KindLead, Title: email + " (51-200)", PersonID: per.ID, OrganizationID: org.ID, Owner: "agt_sam", OwnerName: "Sam", Teams: []string{"sales"}, Conversation: conv, CreatedBy: "bot", Key: conv + ":1:x:0", CreatedAt: at, UpdatedAt: at}
		for _, r := range []*crm.Record{org, per, lead} {
			put(r)
			ev, _ := json.Marshal(crm.Event{ID: fmt.Sprintf("evt_old%03d%s", i, r.ID[:3]), Type: crm.EventRecordCreated, CreatedAt: at, Data: crm.RecordData{Record: r}})
			entries = append(entries, string(ev))
			d.events = append(d.events, fmt.Sprintf("evt_old%03d%s", i, r.ID[:3]))
		}
		pipe.Set(ctx, l.emailKey(email), per.ID, 0)
		pipe.Set(ctx, l.phoneKey(phone), per.ID, 0)
		pipe.Set(ctx, l.domainKey(org.Domain), org.ID, 0)
		pipe.Set(ctx, l.orgNameKey(org.Name), org.ID, 0)
		pipe.HSet(ctx, l.convKey(conv), "person", per.ID, "organization", org.ID, "lead", lead.ID, "owner:sales", "agt_sam")
		pipe.ZAdd(ctx, l.resultsKey(conv), goredis.Z{Score: float64(at.UnixMilli() * 1000), Member: lead.ID})
		pipe.ZAdd(ctx, l.feedKey(per.ID), goredis.Z{Score: float64(at.UnixMilli()), Member: "r:" + lead.ID}, goredis.Z{Score: float64(at.UnixMilli()), Member: "c:" + conv})
		pipe.ZAdd(ctx, l.feedKey(org.ID), goredis.Z{Score: float64(at.UnixMilli()), Member: "r:" + per.ID})
		chat, _ := json.Marshal(crm.Chat{Conversation: conv, Playbook: "website-sales", StartedAt: at, FirstMessage: "hello " + conv, Transcript: crm.TranscriptPath(conv)})
		pipe.Set(ctx, l.chatKey(conv), chat, 0)
		pipe.Set(ctx, l.archiveKey(conv), `[{"text":"hello `+conv+`"}]`, 0)
		iv, _ := json.Marshal(map[string]string{"r": lead.ID, "p": per.ID, "o": org.ID})
		pipe.Set(ctx, l.idemKey(lead.Key), iv, 30*24*time.Hour)
		d.convs, d.people, d.orgs, d.leads = append(d.convs, conv), append(d.people, per.ID), append(d.orgs, org.ID), append(d.leads, lead.ID)
		d.emails, d.phones = append(d.emails, email), append(d.phones, phone)
	}
	d.rrBefore = fmt.Sprint(n)
	pipe.Set(ctx, l.rrKey("sales"), n, 0)
	// A conversation event emitted once (its mark lasts a week).
	d.emitted = "evt_conv_started_conv000"
	started, _ := json.Marshal(crm.Event{ID: d.emitted, Type: crm.EventConversationStarted, CreatedAt: t0, Data: map[string]any{"conversation": map[string]any{"id": "conv000"}}})
	entries = append(entries, string(started))
	d.events = append(d.events, d.emitted)
	pipe.Set(ctx, l.emittedKey(d.emitted), "1", 7*24*time.Hour)
	// A webhook.
	d.sub = "sub_old1"
	sub, _ := json.Marshal(crm.Subscription{ID: d.sub, URL: "https://crm.example.com/hooks", Events: []string{"*"}, Secret: "whsec_old-old-old-old-old", CreatedAt: t0})
	pipe.HSet(ctx, l.subsKey(), d.sub, sub)
	// A delivery under way (leased to a process that died) and a dead letter.
	d.pending, d.dead = "evt_fanned1:"+d.sub, "evt_fanned2:"+d.sub
	for i, id := range []string{d.pending, d.dead} {
		ev, _, _ := strings.Cut(id, ":")
		body, _ := json.Marshal(crm.Event{ID: ev, Type: crm.EventConversationResolved, CreatedAt: t0, Data: map[string]any{"n": i}})
		pipe.HSet(ctx, l.eventKey(ev), "body", body, "type", crm.EventConversationResolved, "pending", 1)
		pipe.HSet(ctx, l.deliveryKey(id), "event", ev, "sub", d.sub, "type", crm.EventConversationResolved, "attempts", 3+i, "first_at", t0.UnixMilli(), "last_at", t0.Add(time.Minute).UnixMilli(), "last_status", 503, "state", []string{"pending", "dead"}[i])
	}
	pipe.ZAdd(ctx, l.dueKey(), goredis.Z{Score: float64(t0.Add(time.Hour).UnixMilli()), Member: d.pending})
	pipe.HSet(ctx, l.leaseKey(), d.pending, "dead-process/7")
	pipe.ZAdd(ctx, l.deadKey(), goredis.Z{Score: float64(t0.Add(2 * time.Minute).UnixMilli()), Member: d.dead})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	// The outbox: one stream with its consumer group; a process read the
	// first half and died before fanning them out.
	for i, body := range entries {
		var head struct{ Type string }
		json.Unmarshal([]byte(body), &head)
		if err := l.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: l.outboxKey(), ID: fmt.Sprintf("%d-0", t0.UnixMilli()+int64(i)), Values: []any{"type", head.Type, "e", body}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.rdb.XGroupCreate(ctx, l.outboxKey(), "webhooks", "0").Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{Group: "webhooks", Consumer: "died", Streams: []string{l.outboxKey(), ">"}, Count: int64(len(entries) / 2), Block: -1}).Err(); err != nil {
		t.Fatal(err)
	}
	return d
}

// dump is every key under prefix (but the migration lock) with its type,
// value and whether it expires, prefix cut off; stream entries without
// their ids (new ones are made when the events move).
func dump(t *testing.T, rdb goredis.UniversalClient, prefix string) map[string]string {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var keys []string
	scan := func(ctx context.Context, c *goredis.Client) error {
		it := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for it.Next(ctx) {
			mu.Lock()
			keys = append(keys, it.Val())
			mu.Unlock()
		}
		return it.Err()
	}
	var err error
	switch c := rdb.(type) {
	case *goredis.ClusterClient:
		err = c.ForEachMaster(ctx, scan)
	case *goredis.Client:
		err = scan(ctx, c)
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		name := strings.TrimPrefix(k, prefix)
		if strings.HasSuffix(name, "schema:crm:lock") {
			continue
		}
		typ := rdb.Type(ctx, k).Val()
		var v string
		switch typ {
		case "string":
			v = rdb.Get(ctx, k).Val()
		case "hash":
			v = fmt.Sprint(rdb.HGetAll(ctx, k).Val())
		case "zset":
			v = fmt.Sprint(rdb.ZRangeWithScores(ctx, k, 0, -1).Val())
		case "stream":
			var vals []string
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				vals = append(vals, fmt.Sprint(m.Values))
			}
			v = strings.Join(vals, "\n")
		}
		if rdb.PTTL(ctx, k).Val() > 0 {
			v += " (expires)"
		}
		out[name] = typ + " " + v
	}
	return out
}

func diffDumps(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if b[k] != v {
			out = append(out, fmt.Sprintf("%s: %.120q vs %.120q", k, v, b[k]))
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, fmt.Sprintf("%s: only in the second", k))
		}
	}
	sort.Strings(out)
	return out
}

// TestMigrateLegacyCRM writes a CRM in the old {crm} layout, migrates it
// and reads everything back through crm.Store: records, indexes, lists,
// feeds, conversation memory and results, chats, transcripts, the
// idempotency keys (a create again is a duplicate), the round robin, the
// webhook, every outbox event (read and unread), the EmitOnce mark, the
// delivery under way and the dead letter. A second run changes nothing.
// The same data migrated by runs killed every 3 steps (after writing a key
// or event under its new name and before deleting the old one), each run
// again until one finishes, ends exactly as the single run did. On one
// node and on the 3-master cluster.
func TestMigrateLegacyCRM(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		tg := open(t)
		rdb := tg.client()
		ctx := context.Background()
		const n = 8
		pa, pb := tg.prefix+"a:", tg.prefix+"b:"
		d := legacyCRM{rdb, pa}.write(t, n)
		ce := redisstore.NewCRM(rdb, pa)
		rep, err := ce.MigrateLegacy(ctx, redisstore.MigrateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("one run: %+v", rep)
		if rep.Done || rep.Events != len(d.events) || rep.Dropped != 0 || rep.Kept != 0 || len(rep.Unknown) != 0 {
			t.Fatalf("report %+v; want %d events moved, nothing dropped, kept or unknown", rep, len(d.events))
		}
		after := dump(t, rdb, pa)

		// Again: the schema key says it is done; without it, the run finds
		// nothing to move.
		if rep, err := ce.MigrateLegacy(ctx, redisstore.MigrateOptions{}); err != nil || !rep.Done {
			t.Fatalf("second run: %+v, %v; want done", rep, err)
		}
		rdb.Del(ctx, pa+"schema:crm")
		if rep, err := ce.MigrateLegacy(ctx, redisstore.MigrateOptions{}); err != nil || rep.Done || rep.Keys != 0 || rep.Events != 0 {
			t.Fatalf("a run without the schema key: %+v, %v; want nothing moved", rep, err)
		}
		if diff := diffDumps(after, dump(t, rdb, pa)); len(diff) > 0 {
			t.Fatalf("a second run changed %d keys:\n%s", len(diff), strings.Join(diff, "\n"))
		}
		checkMigrated(t, rdb, pa, d)

		// Killed every 3 steps, run again until done.
		legacyCRM{rdb, pb}.write(t, n)
		cb := redisstore.NewCRM(rdb, pb)
		var o redisstore.MigrateOptions
		redisstore.MigrateFailAfter(&o, 3)
		runs := 0
		for {
			runs++
			if runs > 500 {
				t.Fatal("the migration makes no progress when killed every 3 steps")
			}
			_, err := cb.MigrateLegacy(ctx, o)
			if err == nil {
				break
			}
			if !errors.Is(err, redisstore.ErrMigrationStopped) {
				t.Fatal(err)
			}
		}
		t.Logf("killed %d times", runs-1)
		if runs < 10 {
			t.Fatalf("finished in %d runs: the kills did not happen", runs)
		}
		if diff := diffDumps(after, dump(t, rdb, pb)); len(diff) > 0 {
			t.Fatalf("killed runs end with %d keys unlike one run's:\n%s", len(diff), strings.Join(diff, "\n"))
		}
		checkMigrated(t, rdb, pb, d)
	})
}

// checkMigrated reads the migrated CRM back through crm.Store.
func checkMigrated(t *testing.T, rdb goredis.UniversalClient, prefix string, d legacyData) {
	t.Helper()
	ctx := context.Background()
	ce := redisstore.NewCRM(rdb, prefix)
	st := crm.New(ce, ce, crm.Options{})
	if left := dump(t, rdb, prefix+"{crm}:"); len(left) != 0 {
		t.Fatalf("%d keys left in the old layout: %v", len(left), left)
	}
	for i, conv := range d.convs {
		p, err := st.PersonByEmail(ctx, d.emails[i])
		if err != nil || p.ID != d.people[i] || p.OrganizationID != d.orgs[i] || p.Owner != "agt_sam" {
			t.Fatalf("person by email %s: %+v, %v", d.emails[i], p, err)
		}
		if p, err := st.PersonByPhone(ctx, d.phones[i]); err != nil || p.ID != d.people[i] {
			t.Fatalf("person by phone %s: %+v, %v", d.phones[i], p, err)
		}
		lead, err := st.Get(ctx, d.leads[i])
		if err != nil || lead.PersonID != d.people[i] || lead.Key != conv+":1:x:0" {
			t.Fatalf("lead %s: %+v, %v", d.leads[i], lead, err)
		}
		cc, err := st.Context(ctx, conv)
		if err != nil || cc.Person != d.people[i] || cc.Organization != d.orgs[i] || cc.Lead != d.leads[i] || cc.Owners["sales"] != "agt_sam" {
			t.Fatalf("conversation %s: %+v, %v", conv, cc, err)
		}
		if rs, err := st.Results(ctx, conv); err != nil || len(rs) != 1 || rs[0].ID != d.leads[i] {
			t.Fatalf("results of %s: %v, %v", conv, rs, err)
		}
		feed, err := st.Feed(ctx, d.people[i], "", 0)
		var got []string
		for _, it := range feed {
			if it.Record != nil {
				got = append(got, it.Type+" "+it.Record.ID)
			}
			if it.Chat != nil {
				got = append(got, it.Type+" "+it.Chat.Conversation+" "+it.Chat.FirstMessage)
			}
		}
		if err != nil || !slices.Contains(got, "record "+d.leads[i]) || !slices.Contains(got, "chat "+conv+" hello "+conv) {
			t.Fatalf("feed of %s: %v, %v", d.people[i], got, err)
		}
		if b, err := st.ArchivedTranscript(ctx, conv); err != nil || !strings.Contains(string(b), conv) {
			t.Fatalf("transcript of %s: %q, %v", conv, b, err)
		}
		// The conversation's lead again: the key is used, the same records.
		again, err := st.Create(ctx, crm.Source{Conversation: conv}, engine.Record{Kind: "lead", Key: conv + ":1:x:0", Fields: map[string]any{"title": "x", "person": map[string]any{"email": d.emails[i]}}})
		if err != nil || !again.Duplicate || again.Record.ID != d.leads[i] || again.Person == nil || again.Person.ID != d.people[i] {
			t.Fatalf("the lead's key again: %+v, %v", again, err)
		}
	}
	for kind, want := range map[crm.Kind]int{crm.KindPerson: len(d.people), crm.KindOrganization: len(d.orgs), crm.KindLead: len(d.leads)} {
		if c, err := st.Count(ctx, kind); err != nil || c != int64(want) {
			t.Fatalf("%d %s records (%v), want %d", c, kind, err, want)
		}
	}
	if org, err := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindOrganization, Limit: 1}); err != nil || len(org) != 1 || org[0].ID != d.orgs[len(d.orgs)-1] {
		t.Fatalf("newest organization: %v, %v", org, err)
	}
	if next, err := ce.Next(ctx, "rr:sales"); err != nil || fmt.Sprint(next-1) != d.rrBefore {
		t.Fatalf("round robin went on at %d (%v), want %s+1", next, err, d.rrBefore)
	}
	subs, err := st.Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].ID != d.sub || subs[0].URL != "https://crm.example.com/hooks" {
		t.Fatalf("subscriptions: %+v, %v", subs, err)
	}
	if added, err := st.EmitOnce(ctx, d.emitted, crm.EventConversationStarted, nil, time.Hour); err != nil || added {
		t.Fatalf("EmitOnce of an id marked in the old layout: added %v, %v", added, err)
	}
	// Every event of the old outbox, read or not, waits in the new one.
	if n, err := st.Outbox(ctx); err != nil || n != int64(len(d.events)) {
		t.Fatalf("outbox holds %d events (%v), want %d", n, err, len(d.events))
	}
	var ids []string
	for shard := 0; shard < ce.Shards(); shard++ {
		es, err := ce.Read(ctx, shard, "after-migration", 1000, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			ids = append(ids, e.Event.ID)
			if e.Event.Type == "" || !strings.Contains(e.Event.Body, e.Event.ID) {
				t.Fatalf("moved event %+v", e)
			}
		}
	}
	slices.Sort(ids)
	want := slices.Clone(d.events)
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("events in the new outbox %v, want %v", ids, want)
	}
	// The delivery under way and the dead letter.
	if p, err := st.Pending(ctx); err != nil || p[d.sub] != 1 {
		t.Fatalf("pending deliveries %v, %v; want 1 for %s", p, err, d.sub)
	}
	dead, err := st.DeadLetters(ctx, 0)
	if err != nil || len(dead) != 1 || dead[0].ID != d.dead || dead[0].Attempts != 4 || dead[0].LastStatus != 503 || dead[0].URL != "https://crm.example.com/hooks" {
		t.Fatalf("dead letters %+v, %v", dead, err)
	}
	if body, err := ce.EventBody(ctx, "evt_fanned1"); err != nil || !strings.Contains(body, "evt_fanned1") {
		t.Fatalf("the body of the event under way: %q, %v", body, err)
	}
	if err := st.Replay(ctx, d.dead); err != nil {
		t.Fatalf("replaying the dead letter: %v", err)
	}
}

// TestMigrateLegacyOneProcessAtATime: two processes start the migration
// of the same old CRM at once: one moves everything, the other waits for
// it and reports it done; the keys end as one run leaves them. A process
// that finds the lock held and may not wait gets ErrMigrationBusy.
func TestMigrateLegacyOneProcessAtATime(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		tg := open(t)
		ctx := context.Background()
		pa, pb := tg.prefix+"a:", tg.prefix+"b:"
		rdb := tg.client()
		d := legacyCRM{rdb, pa}.write(t, 8)
		if _, err := redisstore.NewCRM(rdb, pa).MigrateLegacy(ctx, redisstore.MigrateOptions{}); err != nil {
			t.Fatal(err)
		}
		want := dump(t, rdb, pa)

		legacyCRM{rdb, pb}.write(t, 8)
		reps := make([]redisstore.MigrateReport, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range 2 {
			c := redisstore.NewCRM(tg.client(), pb) // a process of its own
			wg.Add(1)
			go func() {
				defer wg.Done()
				reps[i], errs[i] = c.MigrateLegacy(ctx, redisstore.MigrateOptions{Wait: 30 * time.Second})
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("errors: %v, %v", errs[0], errs[1])
		}
		if reps[0].Done == reps[1].Done || reps[0].Events+reps[1].Events != len(d.events) {
			t.Fatalf("reports %+v and %+v; want one run that moved %d events and one that found it done", reps[0], reps[1], len(d.events))
		}
		if diff := diffDumps(want, dump(t, rdb, pb)); len(diff) > 0 {
			t.Fatalf("two processes at once end with %d keys unlike one run's:\n%s", len(diff), strings.Join(diff, "\n"))
		}

		pc := tg.prefix + "c:"
		legacyCRM{rdb, pc}.write(t, 1)
		if err := rdb.Set(ctx, pc+"schema:crm:lock", "another-process", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if _, err := redisstore.NewCRM(rdb, pc).MigrateLegacy(ctx, redisstore.MigrateOptions{}); !errors.Is(err, redisstore.ErrMigrationBusy) {
			t.Fatalf("with the lock held: %v, want ErrMigrationBusy", err)
		}
	})
}
