package crm_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// leadStore is a store.CRM and store.Outbox that answers a lead's create
// from memory and keeps nothing, so that every create of the same lead
// does the same work: only what the methods a create calls do is there
// (the rest, nil, would panic).
type leadStore struct {
	store.CRM
	store.Outbox
	records map[string]string // id → JSON
	applied int
}

func (s *leadStore) Records(_ context.Context, ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = s.records[id]
	}
	return out, nil
}

func (s *leadStore) Apply(context.Context, *store.CRMChange) (string, error) {
	s.applied++
	return "", nil
}

func (s *leadStore) Subscriptions(context.Context) ([]string, error) { return nil, nil }
func (s *leadStore) PublishesOn(any) bool                            { return true }

// benchLead is the reference conversation's lead (BENCH.md) as its last
// turn asks the CRM for it: the card's record, the source the turn's
// reads made (the inbox record, the CRM's memory and index entries), the
// chat for the person's feed. org is the id the domain's index entry
// holds ("" for a new domain).
func benchLead(org string) (crm.Source, engine.Record) {
	const email = "visitor231@acme37.com"
	started := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	ended := started.Add(time.Minute)
	rec := engine.Record{Kind: "lead", Key: "conv-231:6:offline:0", Fields: map[string]any{
		"title":  email,
		"person": map[string]any{"email": email},
		"custom": map[string]any{"budget": 1500, "size": "201+", "email": email},
	}}
	src := crm.Source{Conversation: "conv-231", Visitor: crm.Contact{Email: email}, BotName: "Ava", Playbook: "qualify",
		Chat: &crm.Chat{Conversation: "conv-231", Playbook: "qualify", StartedAt: started, EndedAt: &ended, FirstMessage: "Talk to sales", Outcome: "lead"},
		Read: &crm.ConversationRead{Memory: map[string]string{}, Indexes: map[string]string{
			"email:" + email: "", "domain:acme37.com": org,
		}}}
	return src, rec
}

// TestLeadCreateAllocations (issue 13) holds the allocations of a lead's
// create on the CRM's side (crm.Store.Create, the store's work left out):
// at a new domain (a new organization, person and lead) and at a known
// one (its organization read and linked), as the reference conversation
// makes them. The change's lists start in room of its own (change),
// domains are cut in place (registrable, FreeMail), and the visitor's
// email, the card's too, is named once (readNames). Not under the race
// detector (about 90 there, and not steady).
func TestLeadCreateAllocations(t *testing.T) {
	const orgJSON = `{"kind":"organization","name":"Acme37","domain":"acme37.com","conversation":"conv-37","playbook":"qualify","created_by":"bot","created_at":"2026-12-05T01:00:00Z"}`
	now := time.Date(2026, 12, 5, 1, 1, 0, 0, time.UTC)
	for _, tc := range []struct {
		name    string
		org     string
		created int
		max     float64
	}{
		// 107 and 104 before issue 13's seventh round; 73 and 77 before
		// the twelfth (the records message's JSON made again from the
		// records by the service, here a fixed payload: the JSON array
		// of the created records is now made from their stored forms).
		{"new domain", "", 3, 74},
		{"known domain", "org_known", 2, 78},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &leadStore{records: map[string]string{"org_known": orgJSON}}
			var msgs, spliced int
			c := crm.New(st, st, crm.Options{Now: func() time.Time { return now }, ChangedMessage: func(rs []*crm.Record, js []byte) (store.Message, bool) {
				msgs++
				if js != nil {
					spliced++
				}
				return store.Message{Channel: "pb:inbox", Payload: "records"}, true
			}})
			ctx := context.Background()
			src, rec := benchLead(tc.org)
			create := func() {
				res, err := c.Create(ctx, src.Clone(), rec)
				if err != nil || res.Duplicate || len(res.Created) != tc.created {
					t.Fatalf("create: %+v, %v", res, err)
				}
			}
			create() // the subscriptions read once
			n := testing.AllocsPerRun(200, create)
			t.Logf("%s: %.0f allocations a create", tc.name, n)
			if spliced != msgs {
				t.Errorf("%s: the records' JSON made from their stored forms for %d messages of %d", tc.name, spliced, msgs)
			}
			if n > tc.max && !race.Enabled {
				t.Errorf("%s: %.0f allocations a create, want at most %.0f", tc.name, n, tc.max)
			}
		})
	}
}

// TestCreatedRecordsJSON: the created records' JSON a create hands to
// Options.ChangedMessage, made from their stored forms, is json.Marshal's
// of the records, byte for byte (the inbox's record message is the same
// for every process of a mixed fleet): at a new domain and a known one,
// with a record whose updated_at is not its created_at, and with an id
// encoding/json would escape (not made then: nil).
func TestCreatedRecordsJSON(t *testing.T) {
	const orgJSON = `{"kind":"organization","name":"Acme37","domain":"acme37.com","conversation":"conv-37","playbook":"qualify","created_by":"bot","created_at":"2026-12-05T01:00:00Z"}`
	now := time.Date(2026, 12, 5, 1, 1, 0, 123456789, time.UTC)
	for _, org := range []string{"", "org_known"} {
		st := &leadStore{records: map[string]string{"org_known": orgJSON}}
		var got []byte
		var rs []*crm.Record
		c := crm.New(st, st, crm.Options{Now: func() time.Time { return now }, ChangedMessage: func(created []*crm.Record, js []byte) (store.Message, bool) {
			rs, got = created, js
			return store.Message{Channel: "pb:inbox", Payload: "records"}, true
		}})
		src, rec := benchLead(org)
		rec.Fields["custom"].(map[string]any)["note"] = `<b>"quoted" & é</b>`
		if _, err := c.Create(context.Background(), src, rec); err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(rs)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("domain %q: the created records' JSON\n%s\nwant json.Marshal's\n%s", org, got, want)
		}
	}
	r := &crm.Record{ID: "led_1", Kind: crm.KindLead, Title: "x", CreatedAt: now, UpdatedAt: now.Add(time.Second)}
	stored, _ := json.Marshal(struct {
		*crm.Record
		ID string `json:"id,omitempty"`
	}{Record: r})
	want, _ := json.Marshal(r)
	if got := crm.AppendRecordJSON([]byte{}, stored, r); !bytes.Equal(got, want) {
		t.Errorf("updated later: %s, want %s", got, want)
	}
	r.ID = "led_<1>"
	if got := crm.AppendRecordJSON([]byte{}, stored, r); got != nil {
		t.Errorf("an id encoding/json escapes: %s, want nil", got)
	}
}

func BenchmarkLeadCreate(b *testing.B) {
	now := time.Date(2026, 12, 5, 1, 1, 0, 0, time.UTC)
	st := &leadStore{records: map[string]string{}}
	c := crm.New(st, st, crm.Options{Now: func() time.Time { return now }, ChangedMessage: func(rs []*crm.Record, _ []byte) (store.Message, bool) {
		return store.Message{Channel: "pb:inbox", Payload: "records"}, true
	}})
	src, rec := benchLead("")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Create(context.Background(), src.Clone(), rec); err != nil {
			b.Fatal(err)
		}
	}
}
