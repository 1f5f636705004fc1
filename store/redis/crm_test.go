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
