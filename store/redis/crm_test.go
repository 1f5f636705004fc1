package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

func openRedis(t *testing.T) storetest.CRMEngine {
	if testing.Short() {
		t.Skip("needs Redis: not under -short")
	}
	rds := redistest.New(t)
	c := redisstore.NewCRM(rds.Client, rds.Prefix)
	return storetest.CRMEngine{CRM: c, Outbox: c, Another: func(t *testing.T) (store.CRM, store.Outbox) {
		opt, err := goredis.ParseURL(rds.URL)
		if err != nil {
			t.Fatal(err)
		}
		other := goredis.NewClient(opt)
		t.Cleanup(func() { other.Close() })
		c := redisstore.NewCRM(other, rds.Prefix)
		return c, c
	}}
}

func openCluster(t *testing.T) (storetest.CRMEngine, *redistest.Cluster) {
	if testing.Short() {
		t.Skip("needs a Redis Cluster: not under -short")
	}
	cl := redistest.NewCluster(t)
	c := redisstore.NewCRM(cl.Client, cl.Prefix)
	return storetest.CRMEngine{CRM: c, Outbox: c, Another: func(t *testing.T) (store.CRM, store.Outbox) {
		other := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
		t.Cleanup(func() { other.Close() })
		c := redisstore.NewCRM(other, cl.Prefix)
		return c, c
	}}, cl
}

func TestCRM(t *testing.T) { storetest.CRM(t, openRedis) }

func TestCRMCluster(t *testing.T) {
	storetest.CRM(t, func(t *testing.T) storetest.CRMEngine { e, _ := openCluster(t); return e })
}

// TestCRMKeysSpreadOverMasters creates 1,000 leads (each with its person
// and organization, and a deal and a task for every tenth) on the real
// cluster, then counts the test's keys on each master: no master may hold
// more than half of them.
func TestCRMKeysSpreadOverMasters(t *testing.T) {
	e, cl := openCluster(t)
	st := crm.New(e.CRM, e.Outbox, crm.Options{})
	ctx := context.Background()
	const leads = 1000
	for i := range leads {
		conv := fmt.Sprintf("k%d", i)
		r := engine.Record{Kind: "lead", Key: conv + ":1:x:0", Fields: map[string]any{"title": "x", "person": map[string]any{"email": fmt.Sprintf("p%d@org%d.example", i, i%300)}}}
		if _, err := st.Create(ctx, crm.Source{Conversation: conv}, r); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			for j, kind := range []engine.RecordKind{"deal", "task"} {
				r := engine.Record{Kind: kind, Key: fmt.Sprintf("%s:1:x:%d", conv, j+1), Fields: map[string]any{}}
				if _, err := st.Create(ctx, crm.Source{Conversation: conv}, r); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	var mu sync.Mutex
	var counts []int
	total := 0
	err := cl.Client.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		k := 0
		iter := n.Scan(ctx, 0, cl.Prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			k++
		}
		if iter.Err() != nil {
			return iter.Err()
		}
		mu.Lock()
		counts = append(counts, k)
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range counts {
		total += k
	}
	t.Logf("keys per master after %d leads: %v (total %d)", leads, counts, total)
	if len(counts) < 3 {
		t.Fatalf("%d masters, want 3", len(counts))
	}
	for _, k := range counts {
		if k > total/2 {
			t.Fatalf("one master holds %d of %d keys: %v", k, total, counts)
		}
	}
	if n, err := st.Count(ctx, crm.KindLead); err != nil || n != leads {
		t.Fatalf("%d leads (%v), want %d", n, err, leads)
	}
}

// TestCreateFinishedAfterACrashMidWay: the process dies after each step of
// a create in turn (on one node and on the cluster). Another conversation
// of the same email then links to the person it made, when the person
// exists; the retried create finishes the same plan: one organization,
// one person, one lead per conversation, each event once.
func TestCreateFinishedAfterACrashMidWay(t *testing.T) {
	for _, where := range []string{"node", "cluster"} {
		for step := 1; step <= 4; step++ {
			t.Run(fmt.Sprintf("%s/after-step-%d", where, step), func(t *testing.T) {
				var e storetest.CRMEngine
				if where == "node" {
					e = openRedis(t)
				} else {
					e, _ = openCluster(t)
				}
				c := e.CRM.(*redisstore.CRM)
				st := crm.New(c, c, crm.Options{})
				ctx := context.Background()
				// Record events are written only for a webhook that wants them.
				if _, err := st.AddSubscription(ctx, "https://crm.example.com/hooks", []string{crm.EventRecordCreated}, ""); err != nil {
					t.Fatal(err)
				}
				lead := func(conv string) engine.Record {
					return engine.Record{Kind: "lead", Key: conv + ":1:x:0", Fields: map[string]any{"title": "x", "person": map[string]any{"email": "ana@acme.io"}}}
				}
				c.CrashAfter(step)
				if _, err := st.Create(ctx, crm.Source{Conversation: "c1"}, lead("c1")); err == nil {
					t.Fatal("the create did not stop")
				}
				c.CrashAfter(0)
				switch step {
				case 3:
					// The person and its index are written, the person
					// still pending: another conversation of the email
					// waits for it rather than make a second person.
					if _, err := st.Create(ctx, crm.Source{Conversation: "c2"}, lead("c2")); !errors.Is(err, crm.ErrConflict) {
						t.Fatalf("second conversation while the person is pending: %v, want a conflict", err)
					}
				case 4:
					// Everything but the done mark is written: another
					// conversation links to the person.
					res, err := st.Create(ctx, crm.Source{Conversation: "c2"}, lead("c2"))
					if err != nil || len(res.Created) != 1 || res.Created[0].Kind != crm.KindLead {
						t.Fatalf("second conversation: %+v, %v", res, err)
					}
				}
				res, err := st.Create(ctx, crm.Source{Conversation: "c1"}, lead("c1"))
				if err != nil {
					t.Fatal(err)
				}
				if step >= 3 {
					res2, err := st.Create(ctx, crm.Source{Conversation: "c2"}, lead("c2"))
					if err != nil || res2.Person.ID != res.Person.ID {
						t.Fatalf("two people: %v / %v", res2, err)
					}
				}
				want := map[crm.Kind]int64{crm.KindPerson: 1, crm.KindOrganization: 1, crm.KindLead: 1}
				events := int64(3)
				if step >= 3 {
					want[crm.KindLead], events = 2, 4
				}
				for k, n := range want {
					if got, err := st.Count(ctx, k); err != nil || got != n {
						t.Fatalf("%d %s records (%v), want %d", got, k, err, n)
					}
				}
				if n, err := c.Backlog(ctx); err != nil || n != events {
					t.Fatalf("outbox has %d events (%v), want %d", n, err, events)
				}
				p, err := st.PersonByEmail(ctx, "ana@acme.io")
				if err != nil || p.ID != res.Person.ID || p.OrganizationID != res.Organization.ID {
					t.Fatalf("person by email: %+v, %v; want %s", p, err, res.Person.ID)
				}
				feed, err := st.Feed(ctx, p.ID, "", 0)
				if err != nil || len(feed) != int(want[crm.KindLead]) {
					t.Fatalf("the person's feed has %d items (%v), want %d", len(feed), err, want[crm.KindLead])
				}
			})
		}
	}
}

// TestCreateAfterAnAbandonedCreate: a create dies with its person pending
// and is not retried for 10 s; another conversation of the email then
// goes on without it, and the late retry links to that person.
func TestCreateAfterAnAbandonedCreate(t *testing.T) {
	e := openRedis(t)
	c := e.CRM.(*redisstore.CRM)
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	st := crm.New(c, c, crm.Options{Now: clock})
	ctx := context.Background()
	lead := func(conv string) engine.Record {
		return engine.Record{Kind: "lead", Key: conv + ":1:x:0", Fields: map[string]any{"title": "x", "person": map[string]any{"email": "ana@acme.io"}}}
	}
	c.CrashAfter(3)
	if _, err := st.Create(ctx, crm.Source{Conversation: "c1"}, lead("c1")); err == nil {
		t.Fatal("the create did not stop")
	}
	c.CrashAfter(0)
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	res2, err := st.Create(ctx, crm.Source{Conversation: "c2"}, lead("c2"))
	if err != nil {
		t.Fatal(err)
	}
	res1, err := st.Create(ctx, crm.Source{Conversation: "c1"}, lead("c1"))
	if err != nil {
		t.Fatal(err)
	}
	if res1.Person.ID != res2.Person.ID || res1.Organization.ID != res2.Organization.ID {
		t.Fatalf("the late retry made person %s org %s, want %s %s", res1.Person.ID, res1.Organization.ID, res2.Person.ID, res2.Organization.ID)
	}
	for k, n := range map[crm.Kind]int64{crm.KindPerson: 1, crm.KindOrganization: 1, crm.KindLead: 2} {
		if got, err := st.Count(ctx, k); err != nil || got != n {
			t.Fatalf("%d %s records (%v), want %d", got, k, err, n)
		}
	}
}

func TestMailQuota(t *testing.T) {
	storetest.MailQuota(t, func(t *testing.T) func() store.MailQuota {
		if testing.Short() {
			t.Skip("needs Redis: not under -short")
		}
		rds := redistest.New(t)
		return func() store.MailQuota {
			opt, err := goredis.ParseURL(rds.URL)
			if err != nil {
				t.Fatal(err)
			}
			c := goredis.NewClient(opt)
			t.Cleanup(func() { c.Close() })
			return redisstore.NewMailQuota(c, rds.Prefix)
		}
	})
}

func TestMailQuotaCluster(t *testing.T) {
	storetest.MailQuota(t, func(t *testing.T) func() store.MailQuota {
		if testing.Short() {
			t.Skip("needs a Redis Cluster: not under -short")
		}
		cl := redistest.NewCluster(t)
		return func() store.MailQuota {
			c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
			t.Cleanup(func() { c.Close() })
			return redisstore.NewMailQuota(c, cl.Prefix)
		}
	})
}

func TestFunnels(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Funnels(t, func(t *testing.T) func() store.Funnels {
			tg := open(t)
			return func() store.Funnels { return redisstore.NewFunnels(tg.client(), tg.prefix) }
		})
	})
}

// TestCRMApplyIsOneRoundTripOnOneNode: on one Redis node a change is one
// script (the claim, the compare-and-sets, the rest, the done mark), and
// a change with a key used before answers its done value in one more.
func TestCRMApplyIsOneRoundTripOnOneNode(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis: not under -short")
	}
	ctx := context.Background()
	rds := redistest.New(t)
	rdb := goredis.NewClient(rds.Client.Options())
	t.Cleanup(func() { rdb.Close() })
	c := redisstore.NewCRM(rdb, rds.Prefix)
	// Warm: the connection made, the script loaded.
	if _, err := c.Apply(ctx, &store.CRMChange{Conv: []store.ConvField{{Conv: "c0", Field: "f", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	counter := &roundTrips{}
	rdb.AddHook(counter)
	email := store.IndexKey("email", "ada@example.com")
	ev := store.OutboxEvent{ID: "evt_1", Type: "record.created", Body: `{"id":"lea_1"}`}
	ch := &store.CRMChange{Key: "k1", Done: `{"r":"lea_1","p":"per_1"}`, Planned: time.Now().UnixMilli(),
		Records: []store.CAS{{Name: "per_1", New: `{"id":"per_1"}`}, {Name: "lea_1", New: `{"id":"lea_1"}`}},
		Indexes: []store.CAS{{Name: email, New: "per_1"}},
		Listed:  []store.Listed{{Kind: "lead", ID: "lea_1", Ms: 1}, {Kind: "person", ID: "per_1", Ms: 1}},
		Conv:    []store.ConvField{{Conv: "c1", Field: "person", Value: "per_1"}, {Conv: "c1", Field: "lead", Value: "lea_1"}},
		Results: []store.ConvResult{{Conv: "c1", ID: "per_1", Score: 1000}, {Conv: "c1", ID: "lea_1", Score: 1001}},
		Feeds:   []store.FeedAdd{{Owner: "per_1", Member: "r:lea_1", Ms: 1}, {Owner: "per_1", Member: "c:c1", Ms: 1, NX: true}},
		Chats:   []store.Chat{{Conv: "c1", JSON: `{"conversation":"c1"}`}},
		Events:  []store.OutboxEvent{ev},
		Publish: []store.Message{{Channel: rds.Prefix + "inbox", Payload: "records"}},
	}
	if dup, err := c.Apply(ctx, ch); err != nil || dup != "" {
		t.Fatalf("apply = %q, %v", dup, err)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d round trips for a create on one node, want 1", n)
	}
	recs, err := c.Records(ctx, "per_1", "lea_1")
	if err != nil || recs[0] != `{"id":"per_1"}` || recs[1] != `{"id":"lea_1"}` {
		t.Errorf("records = %q, %v, want their final forms", recs, err)
	}
	m, ids, err := c.Conversation(ctx, "c1", email)
	if err != nil || m["person"] != "per_1" || m["lead"] != "lea_1" || ids[0] != "per_1" {
		t.Errorf("conversation memory %v, index %v, %v", m, ids, err)
	}
	if res, err := c.Results(ctx, "c1", 10); err != nil || fmt.Sprint(res) != "[per_1 lea_1]" {
		t.Errorf("results = %v, %v", res, err)
	}
	if feed, err := c.Feed(ctx, "per_1", 10); err != nil || len(feed) != 2 {
		t.Errorf("person's feed = %v, %v", feed, err)
	}
	if chats, err := c.Chats(ctx, "c1"); err != nil || chats[0] != `{"conversation":"c1"}` {
		t.Errorf("chats = %q, %v", chats, err)
	}
	if n, err := c.Count(ctx, "lead"); err != nil || n != 1 {
		t.Errorf("leads listed = %d, %v", n, err)
	}
	if added, err := c.EmitOnce(ctx, ev, time.Hour); err != nil || added {
		t.Errorf("the change's event emitted again: %v, %v (want already there)", added, err)
	}
	if v, err := c.Intent(ctx, "k1"); err != nil || v != ch.Done {
		t.Errorf("intent = %q, %v, want the done value", v, err)
	}
	// The same key again, with another plan: its done value, nothing
	// written.
	counter.n.Store(0)
	again := &store.CRMChange{Key: "k1", Done: `{"r":"lea_2"}`, Planned: time.Now().UnixMilli(), Records: []store.CAS{{Name: "lea_2", New: `{"id":"lea_2"}`}}}
	if dup, err := c.Apply(ctx, again); err != nil || dup != ch.Done {
		t.Fatalf("apply again = %q, %v, want the first done value", dup, err)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d round trips for a duplicate create on one node, want 1", n)
	}
	if recs, _ := c.Records(ctx, "lea_2"); recs[0] != "" {
		t.Errorf("a duplicate wrote %q", recs[0])
	}
	// A stale compare writes nothing.
	stale := &store.CRMChange{Key: "k2", Done: `{"r":"lea_3"}`, Planned: time.Now().UnixMilli(),
		Records: []store.CAS{{Name: "lea_3", New: `{"id":"lea_3"}`}}, Indexes: []store.CAS{{Name: email, New: "per_9"}},
		Conv: []store.ConvField{{Conv: "c1", Field: "lead", Value: "lea_3"}}}
	if _, err := c.Apply(ctx, stale); !errors.Is(err, store.ErrStale) {
		t.Fatalf("a stale change: %v, want ErrStale", err)
	}
	if recs, _ := c.Records(ctx, "lea_3"); recs[0] != "" {
		t.Errorf("a stale change wrote its record %q", recs[0])
	}
	if m, _, _ := c.Conversation(ctx, "c1"); m["lead"] != "lea_1" {
		t.Errorf("a stale change wrote the conversation's memory: %v", m)
	}
	if v, err := c.Intent(ctx, "k2"); err != nil || v != "" {
		t.Errorf("a stale change's key = %q, %v, want unused", v, err)
	}
}

// TestCRMChangeTooBigForOneScript: a change whose script arguments would
// name more strings than its shape's bytes can (254), or put more than 255
// members in one command, is applied on one node in steps, as on a
// Cluster: all of it written, its key done. So is one just small enough
// for the script (240 members in one ZADD).
func TestCRMChangeTooBigForOneScript(t *testing.T) {
	e := openRedis(t)
	c := e.CRM.(*redisstore.CRM)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		kinds, ids int
	}{{"many strings", 300, 300}, {"many members of one list", 1, 200}, {"as many as one script holds", 1, 240}} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.ids == 240 && !redistest.Real() {
				// The script names 240 members through a recursive
				// function, one call deep each: Redis's Lua allows far
				// deeper calls, miniredis's (gopher-lua) overflows.
				t.Skip("needs a real Redis: miniredis's Lua has a smaller call stack")
			}
			key := "big-" + tc.name
			ch := &store.CRMChange{Key: key, Done: "done", Planned: time.Now().UnixMilli(),
				Records: []store.CAS{{Name: "rec_" + key, New: `{"id":"big"}`}}}
			for i := range max(300, tc.ids) {
				if tc.ids == 240 && i == 240 {
					break
				}
				ch.Listed = append(ch.Listed, store.Listed{Kind: fmt.Sprintf("k%d-%s", i%tc.kinds, key), ID: fmt.Sprintf("id%d", i%tc.ids), Ms: int64(i % tc.kinds)})
			}
			if dup, err := c.Apply(ctx, ch); err != nil || dup != "" {
				t.Fatalf("apply = %q, %v", dup, err)
			}
			var n int64
			for i := range tc.kinds {
				got, err := c.Count(ctx, fmt.Sprintf("k%d-%s", i, key))
				if err != nil {
					t.Fatal(err)
				}
				n += got
			}
			if n != int64(tc.ids) {
				t.Errorf("%d listed, want %d", n, tc.ids)
			}
			if recs, err := c.Records(ctx, "rec_"+key); err != nil || recs[0] != `{"id":"big"}` {
				t.Errorf("record = %q, %v, want its final form", recs, err)
			}
			if v, err := c.Intent(ctx, key); err != nil || v != "done" {
				t.Errorf("intent = %q, %v, want done", v, err)
			}
		})
	}
}
