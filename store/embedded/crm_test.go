package embedded_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/storetest"
)

func TestCRM(t *testing.T) {
	storetest.CRM(t, func(t *testing.T) storetest.CRMEngine {
		db, clk := newDB(t)
		c := embedded.NewCRM(db)
		return storetest.CRMEngine{CRM: c, Outbox: c, Now: clk.Now, Advance: clk.Add}
	})
}

// TestCRMSurvivesARestart: records, indexes, feeds and an event not yet
// fanned out are in the directory after the DB is closed and opened again.
func TestCRMSurvivesARestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	db, err := embedded.Open(dir, embedded.Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := embedded.NewCRM(db)
	st := crm.New(c, c, crm.Options{})
	// Record events are written only for a webhook that wants them.
	if _, err := st.AddSubscription(ctx, "https://crm.example.com/hooks", []string{crm.EventRecordCreated}, ""); err != nil {
		t.Fatal(err)
	}
	res, err := st.Create(ctx, crm.Source{Conversation: "c1"}, engine.Record{Kind: "lead", Key: "c1:1:x:0", Fields: map[string]any{"title": "x", "person": map[string]any{"email": "ana@acme.io"}}})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	db, err = embedded.Open(dir, embedded.Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c = embedded.NewCRM(db)
	st = crm.New(c, c, crm.Options{})
	p, err := st.PersonByEmail(ctx, "ana@acme.io")
	if err != nil || p.ID != res.Person.ID {
		t.Fatalf("person after a restart: %+v, %v", p, err)
	}
	feed, err := st.Feed(ctx, p.ID, "", 0)
	if err != nil || len(feed) != 1 || feed[0].Record.ID != res.Record.ID {
		t.Fatalf("feed after a restart: %+v, %v", feed, err)
	}
	again, err := st.Create(ctx, crm.Source{Conversation: "c1"}, engine.Record{Kind: "lead", Key: "c1:1:x:0", Fields: map[string]any{"title": "x"}})
	if err != nil || !again.Duplicate || again.Record.ID != res.Record.ID {
		t.Fatalf("the same key after a restart: %+v, %v", again, err)
	}
	if n, err := c.Backlog(ctx); err != nil || n != 3 {
		t.Fatalf("outbox after a restart: %d events (%v), want 3", n, err)
	}
	es, err := c.Read(ctx, 0, "after-restart", 10, 0)
	if err != nil || len(es) != 3 {
		t.Fatalf("read after a restart: %d events (%v), want 3", len(es), err)
	}
}

func TestMailQuota(t *testing.T) {
	storetest.MailQuota(t, func(t *testing.T) func() store.MailQuota {
		db, _ := newDB(t)
		return func() store.MailQuota { return embedded.NewMailQuota(db) }
	})
}

func TestFunnels(t *testing.T) {
	storetest.Funnels(t, func(t *testing.T) func() store.Funnels {
		db, _ := newDB(t)
		return func() store.Funnels { return embedded.NewFunnels(db) }
	})
}

// BenchmarkCRMApply is a lead's CRM change as serve makes it: an
// idempotency key, a new record, two index entries and the person's feed
// entry, one change a commit.
func BenchmarkCRMApply(b *testing.B) {
	db, err := embedded.Open(b.TempDir(), embedded.Options{SweepEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	crm := embedded.NewCRM(db)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		id := "rec-" + strconv.Itoa(i)
		if _, err := crm.Apply(ctx, &store.CRMChange{Key: "create-" + id, Done: id,
			Records: []store.CAS{{Name: id, New: `{"id":"` + id + `","email":"a@b.c"}`}},
			Indexes: []store.CAS{{Name: "email:" + id + "@b.c", New: id}, {Name: "phone:" + id, New: id}},
			Feeds:   []store.FeedAdd{{Owner: "person-" + strconv.Itoa(i%100), Member: "chat-" + id, Ms: int64(i)}}}); err != nil {
			b.Fatal(err)
		}
	}
}
