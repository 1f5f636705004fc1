package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

// CRMEngine is an engine's CRM records and outbox under test.
type CRMEngine struct {
	CRM    store.CRM
	Outbox store.Outbox
	// Another opens a second handle on the same data, as a second process
	// would; nil when only one process may use the data.
	Another func(t *testing.T) (store.CRM, store.Outbox)
	// Now is the engine's clock when a test can move it (Advance): the
	// embedded outbox measures how long an event stayed read on it. Tests
	// that wait for an idle time or a lease then run the CRM store on it
	// too and advance it instead of waiting. Nil on Redis, whose server
	// clock measures idle times: those tests wait for real.
	Now     func() time.Time
	Advance func(time.Duration)
}

// Open returns a fresh, empty engine for one test.
type Open func(t *testing.T) CRMEngine

// CRM runs the CRM and webhook outbox tests against the engine open makes.
func CRM(t *testing.T, open Open) {
	for _, c := range []struct {
		name string
		fn   func(*testing.T, Open)
	}{
		{"CreateLinksPersonOrganizationAndOwner", testCreateLinksPersonOrganizationAndOwner},
		{"CreateIsIdempotent", testCreateIsIdempotent},
		{"ConcurrentConversationsOfOneEmailMakeOnePerson", testConcurrentConversationsOfOneEmailMakeOnePerson},
		{"OnePersonPerEmailAcrossTwoProcesses", testOnePersonPerEmailAcrossTwoProcesses},
		{"ReadAheadStaleOrPartial", testReadAheadStaleOrPartial},
		{"RoundRobinIsFairAndPrefersOnlineAgents", testRoundRobinIsFairAndPrefersOnlineAgents},
		{"NoteForTheOwnerNotifies", testNoteForTheOwnerNotifies},
		{"FeedHasChatsNotesAndRecords", testFeedHasChatsNotesAndRecords},
		{"UpdatePersonPhone", testUpdatePersonPhone},
		{"ListFiltersAndCompleteTask", testListFiltersAndCompleteTask},
		{"UpdatePersonPhoneValidatedWithAndWithoutPhone", testUpdatePersonPhoneValidatedWithAndWithoutPhone},
		{"ArchivedTranscript", testArchivedTranscript},
		{"SubscriptionsValidate", testSubscriptionsValidate},
		{"EmitOnceAcrossTwoProcesses", testEmitOnceAcrossTwoProcesses},
		{"WebhooksSurviveFailuresAndDowntime", testWebhooksSurviveFailuresAndDowntime},
		{"WebhookTakenOverFromAKilledProcess", testWebhookTakenOverFromAKilledProcess},
		{"WebhookDeadLetterAndReplay", testWebhookDeadLetterAndReplay},
		{"RecordEventsOnlyForASubscription", testRecordEventsOnlyForASubscription},
	} {
		t.Run(c.name, func(t *testing.T) { c.fn(t, open) })
	}
}

// two returns two CRM stores on the same data: two processes when the
// engine allows it, else two stores in one process.
func two(t *testing.T, open Open, dir crm.Directory) (*crm.Store, *crm.Store, store.Outbox) {
	e := open(t)
	a := crm.New(e.CRM, e.Outbox, crm.Options{Agents: dir})
	cs, ob := e.CRM, e.Outbox
	if e.Another != nil {
		cs, ob = e.Another(t)
	}
	return a, crm.New(cs, ob, crm.Options{Agents: dir}), e.Outbox
}

// testOnePersonPerEmailAcrossTwoProcesses: 100 trials, each two
// conversations of a new email created at the same instant by two
// processes: always one person and one organization.
func testOnePersonPerEmailAcrossTwoProcesses(t *testing.T, open Open) {
	a, b, _ := two(t, open, salesTeam())
	ctx := context.Background()
	const trials = 100
	for i := range trials {
		email := fmt.Sprintf("p%d@org%d.example", i, i)
		var wg sync.WaitGroup
		ids := make([]string, 2)
		for j, st := range []*crm.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conv := fmt.Sprintf("t%d-%d", i, j)
				res, err := st.Create(ctx, crm.Source{Conversation: conv}, rec("lead", conv+":1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": email}}))
				if err != nil {
					t.Error(err)
					return
				}
				ids[j] = res.Person.ID
			}()
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		if ids[0] != ids[1] {
			t.Fatalf("trial %d: two people for %s: %s and %s", i, email, ids[0], ids[1])
		}
	}
	people, _ := a.Count(ctx, crm.KindPerson)
	orgs, _ := b.Count(ctx, crm.KindOrganization)
	leads, _ := a.Count(ctx, crm.KindLead)
	if people != trials || orgs != trials || leads != 2*trials {
		t.Fatalf("%d people, %d organizations, %d leads; want %d, %d, %d", people, orgs, leads, trials, trials, 2*trials)
	}
}

// testReadAheadStaleOrPartial: a create handed a read made ahead (with the
// turn: crm.Source.Read) that is stale (it says nobody has the email,
// another create made the person since) links to the person made, not a
// second one; one that lacks an index entry the create needs (the inbox
// record named another email) reads it.
func testReadAheadStaleOrPartial(t *testing.T, open Open) {
	st, _, _ := two(t, open, salesTeam())
	ctx := context.Background()
	lead := func(conv, email string) engine.Record {
		return rec("lead", conv+":1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": email}})
	}
	first, err := st.Create(ctx, crm.Source{Conversation: "ra1"}, lead("ra1", "ada@ra.example"))
	if err != nil {
		t.Fatal(err)
	}
	names := crm.ReadNames(crm.Contact{}, lead("ra2", "ada@ra.example"))
	stale := &crm.ConversationRead{Memory: map[string]string{}, Indexes: map[string]string{}}
	for _, n := range names {
		stale.Indexes[n] = "" // as read before the first create
	}
	res, err := st.Create(ctx, crm.Source{Conversation: "ra2", Read: stale}, lead("ra2", "ada@ra.example"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Person == nil || res.Person.ID != first.Person.ID {
		t.Fatalf("a create with a stale read ahead linked to %+v, want the person %s", res.Person, first.Person.ID)
	}
	// The read ahead has the conversation's memory but not the index of
	// the email the card names.
	partial := &crm.ConversationRead{Memory: map[string]string{}, Indexes: map[string]string{}}
	res, err = st.Create(ctx, crm.Source{Conversation: "ra3", Read: partial}, lead("ra3", "ada@ra.example"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Person == nil || res.Person.ID != first.Person.ID {
		t.Fatalf("a create with a partial read ahead linked to %+v, want the person %s", res.Person, first.Person.ID)
	}
	if people, _ := st.Count(ctx, crm.KindPerson); people != 1 {
		t.Fatalf("%d people for one email, want 1", people)
	}
}

// testEmitOnceAcrossTwoProcesses: two processes emit the same 200 event
// ids at once; each id is added once.
func testEmitOnceAcrossTwoProcesses(t *testing.T, open Open) {
	a, b, ob := two(t, open, nil)
	ctx := context.Background()
	const n = 200
	added := make([][2]bool, n)
	var wg sync.WaitGroup
	for i := range n {
		for j, st := range []*crm.Store{a, b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := st.EmitOnce(ctx, fmt.Sprintf("evt_once%d", i), crm.EventConversationStarted, map[string]any{"n": i}, time.Hour)
				if err != nil {
					t.Error(err)
				}
				added[i][j] = ok
			}()
		}
	}
	wg.Wait()
	for i, x := range added {
		if x[0] == x[1] {
			t.Fatalf("event %d added by both or neither: %v", i, x)
		}
	}
	if got, err := ob.Backlog(ctx); err != nil || got != n {
		t.Fatalf("outbox has %d events (%v), want %d", got, err, n)
	}
	if ok, err := a.EmitOnce(ctx, "evt_once0", crm.EventConversationStarted, nil, time.Hour); ok || err != nil {
		t.Fatalf("emitting evt_once0 again: added %v, %v", ok, err)
	}
}

// testArchivedTranscript: a transcript is kept and read back; a missing
// one is ErrNotFound; over 2 MiB is refused.
func testArchivedTranscript(t *testing.T, open Open) {
	st, _ := newStore(t, open, nil, nil)
	ctx := context.Background()
	if _, err := st.ArchivedTranscript(ctx, "c1"); err != crm.ErrNotFound {
		t.Fatalf("missing transcript: %v", err)
	}
	if err := st.ArchiveTranscript(ctx, "c1", []byte(`[{"text":"hi"}]`)); err != nil {
		t.Fatal(err)
	}
	if b, err := st.ArchivedTranscript(ctx, "c1"); err != nil || string(b) != `[{"text":"hi"}]` {
		t.Fatalf("archived = %q, %v", b, err)
	}
	if err := st.ArchiveTranscript(ctx, "c2", make([]byte, 2<<20+1)); err == nil {
		t.Fatal("a transcript over 2 MiB was kept")
	}
}
