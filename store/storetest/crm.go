package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

// directory is an agent directory for tests.
type directory struct {
	mu     sync.Mutex
	agents []*crm.Agent
	online map[string]bool
}

func (d *directory) Agent(_ context.Context, id string) (*crm.Agent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.agents {
		if a.ID == id {
			return a, nil
		}
	}
	return nil, crm.ErrNotFound
}

func (d *directory) AgentByEmail(_ context.Context, email string) (*crm.Agent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range d.agents {
		if a.Email == email {
			return a, nil
		}
	}
	return nil, crm.ErrNotFound
}

func (d *directory) TeamAgents(_ context.Context, team string) ([]*crm.Agent, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*crm.Agent
	for _, a := range d.agents {
		if slices.Contains(a.Teams, team) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (d *directory) OnlineAgents(_ context.Context, team string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, a := range d.agents {
		if d.online[a.ID] && slices.Contains(a.Teams, team) {
			out = append(out, a.ID)
		}
	}
	return out, nil
}

func salesTeam() *directory {
	return &directory{agents: []*crm.Agent{
		{ID: "a1", Name: "Sam", Email: "sam@example.com", Teams: []string{"sales"}},
		{ID: "a2", Name: "Kim", Email: "kim@example.com", Teams: []string{"sales"}},
		{ID: "a3", Name: "Lee", Email: "lee@example.com", Teams: []string{"sales", "support"}},
		{ID: "a4", Name: "Sue", Email: "sue@example.com", Teams: []string{"support"}},
	}, online: map[string]bool{}}
}

func newStore(t *testing.T, open Open, dir crm.Directory, notify func(context.Context, crm.Notice)) (*crm.Store, store.Outbox) {
	t.Helper()
	e := open(t)
	return crm.New(e.CRM, e.Outbox, crm.Options{Agents: dir, Notify: notify}), e.Outbox
}

func rec(kind, key string, fields map[string]any) engine.Record {
	return engine.Record{Kind: engine.RecordKind(kind), Key: key, Fields: fields}
}

// capture creates what the sales playbook's offline path creates.
func capture(t *testing.T, st *crm.Store, conv, email string) []*crm.Result {
	t.Helper()
	ctx := context.Background()
	src := crm.Source{Conversation: conv, BotName: "Ava"}
	var out []*crm.Result
	for i, r := range []engine.Record{
		rec("lead", conv+":7:capture:0", map[string]any{"title": email + " (51-200)", "person": map[string]any{"email": email}, "value": 36000.0, "currency": "USD", "owner": "round_robin:sales", "labels": []any{"website", "chat"}}),
		rec("deal", conv+":7:capture:1", map[string]any{"title": email + ": 51-200 employees", "value": 36000.0, "stage": "Qualified", "pipeline": "Sales", "owner": "round_robin:sales", "expected_close": time.Date(2030, 1, 15, 0, 0, 0, 0, time.UTC)}),
		rec("task", conv+":7:capture:2", map[string]any{"subject": "Call back " + email, "due": time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC), "assignee": "round_robin:sales", "type": "call"}),
	} {
		res, err := st.Create(ctx, src, r)
		if err != nil {
			t.Fatalf("create %d: %v", i, err)
		}
		out = append(out, res)
	}
	return out
}

func testCreateLinksPersonOrganizationAndOwner(t *testing.T, open Open) {
	st, ob := newStore(t, open, salesTeam(), nil)
	ctx := context.Background()
	wantRecordEvents(t, st)
	res := capture(t, st, "c1", "Ana@Acme.io ")
	lead, deal, task := res[0].Record, res[1].Record, res[2].Record
	if res[0].Person == nil || res[0].Person.Email != "ana@acme.io" {
		t.Fatalf("lead's person = %+v", res[0].Person)
	}
	if res[0].Organization == nil || res[0].Organization.Name != "Acme" || res[0].Organization.Domain != "acme.io" {
		t.Fatalf("lead's organization = %+v", res[0].Organization)
	}
	if got := len(res[0].Created); got != 3 {
		t.Fatalf("the first create made %d records, want organization, person and lead", got)
	}
	p := res[0].Person
	for _, r := range []*crm.Record{lead, deal, task} {
		if r.PersonID != p.ID || r.OrganizationID != res[0].Organization.ID {
			t.Errorf("%s links to person %q org %q", r.Kind, r.PersonID, r.OrganizationID)
		}
		if r.Owner == "" || r.Owner != lead.Owner {
			t.Errorf("%s owner %q, lead owner %q: one conversation, one owner", r.Kind, r.Owner, lead.Owner)
		}
		if !slices.Contains(r.Teams, "sales") {
			t.Errorf("%s teams %v", r.Kind, r.Teams)
		}
	}
	if task.LeadID != lead.ID || task.DealID != deal.ID || deal.LeadID != lead.ID {
		t.Errorf("task links lead %q deal %q; deal links lead %q", task.LeadID, task.DealID, deal.LeadID)
	}
	if deal.ExpectedClose != "2030-01-15" || task.Due == nil || !task.Due.Equal(time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("deal closes %q, task due %v", deal.ExpectedClose, task.Due)
	}
	person, _ := st.Get(ctx, p.ID)
	if person.Owner != lead.Owner {
		t.Errorf("the new person's owner %q, want the lead's %q", person.Owner, lead.Owner)
	}
	// A second conversation from the same email: the same person and
	// organization, and the same owner (a returning person keeps theirs).
	res2 := capture(t, st, "c2", "ana@acme.io")
	if res2[0].Person.ID != p.ID || res2[0].Organization.ID != res[0].Organization.ID {
		t.Fatalf("second conversation made person %s org %s, want %s %s", res2[0].Person.ID, res2[0].Organization.ID, p.ID, res[0].Organization.ID)
	}
	if len(res2[0].Created) != 1 || res2[0].Record.Owner != lead.Owner {
		t.Fatalf("second lead: created %d, owner %q", len(res2[0].Created), res2[0].Record.Owner)
	}
	people, err := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindPerson})
	if err != nil || len(people) != 1 {
		t.Fatalf("people = %d (%v), want 1", len(people), err)
	}
	// Every record made is in the outbox, as an event.
	n, _ := ob.Backlog(ctx)
	// c1: organization, person, lead, deal, task; c2: lead, deal, task.
	if n != 8 {
		t.Fatalf("outbox has %d events, want 8", n)
	}
	results, _ := st.Results(ctx, "c1")
	if len(results) != 5 {
		t.Fatalf("results of c1 = %d, want 5 (organization, person, lead, deal, task)", len(results))
	}
}

func testCreateIsIdempotent(t *testing.T, open Open) {
	st, ob := newStore(t, open, salesTeam(), nil)
	ctx := context.Background()
	wantRecordEvents(t, st)
	r := rec("lead", "c1:3:capture:0", map[string]any{"title": "Ana", "person": map[string]any{"email": "ana@acme.io"}})
	var wg sync.WaitGroup
	results := make([]*crm.Result, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = st.Create(ctx, crm.Source{Conversation: "c1"}, r)
		}()
	}
	wg.Wait()
	fresh := 0
	for i, res := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !res.Duplicate {
			fresh++
		}
		if res.Record.ID != results[0].Record.ID {
			t.Fatalf("two leads for one key: %s, %s", res.Record.ID, results[0].Record.ID)
		}
	}
	if fresh != 1 {
		t.Fatalf("%d creates reported new records, want 1", fresh)
	}
	leads, _ := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindLead})
	if len(leads) != 1 {
		t.Fatalf("%d leads", len(leads))
	}
	if n, _ := ob.Backlog(ctx); n != 3 {
		t.Fatalf("outbox has %d events, want 3 (organization, person, lead)", n)
	}
}

func testConcurrentConversationsOfOneEmailMakeOnePerson(t *testing.T, open Open) {
	st, _ := newStore(t, open, salesTeam(), nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conv := fmt.Sprintf("c%d", i)
			_, err := st.Create(ctx, crm.Source{Conversation: conv}, rec("lead", conv+":1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": "bo@globex.com", "phone": "+1 415 555 0100"}}))
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	people, _ := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindPerson})
	orgs, _ := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindOrganization})
	leads, _ := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindLead})
	if len(people) != 1 || len(orgs) != 1 || len(leads) != 10 {
		t.Fatalf("%d people, %d organizations, %d leads; want 1, 1, 10", len(people), len(orgs), len(leads))
	}
	byPhone, err := st.PersonByPhone(ctx, "(+1) 415-555-0100")
	if err != nil || byPhone.ID != people[0].ID {
		t.Fatalf("by phone: %v %v", byPhone, err)
	}
}

func testRoundRobinIsFairAndPrefersOnlineAgents(t *testing.T, open Open) {
	dir := salesTeam()
	st, _ := newStore(t, open, dir, nil)
	ctx := context.Background()
	counts := map[string]int{}
	for i := range 9 {
		conv := fmt.Sprintf("c%d", i)
		res, err := st.Create(ctx, crm.Source{Conversation: conv}, rec("lead", conv+":1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": fmt.Sprintf("p%d@corp%d.com", i, i)}, "owner": "round_robin:sales"}))
		if err != nil {
			t.Fatal(err)
		}
		counts[res.Record.OwnerName]++
	}
	if counts["Sam"] != 3 || counts["Kim"] != 3 || counts["Lee"] != 3 {
		t.Fatalf("round robin over 3 agents, 9 leads: %v", counts)
	}
	// With Kim online, only Kim gets new records.
	dir.mu.Lock()
	dir.online["a2"] = true
	dir.mu.Unlock()
	for i := range 3 {
		conv := fmt.Sprintf("d%d", i)
		res, _ := st.Create(ctx, crm.Source{Conversation: conv}, rec("task", conv+":1:x:0", map[string]any{"subject": "x", "assignee": "round_robin:sales"}))
		if res.Record.OwnerName != "Kim" {
			t.Fatalf("task went to %s while only Kim is online", res.Record.OwnerName)
		}
	}
	// A fixed owner by email.
	res, _ := st.Create(ctx, crm.Source{}, rec("deal", "k1", map[string]any{"title": "x", "owner": "sue@example.com"}))
	if res.Record.Owner != "a4" || !slices.Contains(res.Record.Teams, "support") {
		t.Fatalf("fixed owner: %q teams %v", res.Record.Owner, res.Record.Teams)
	}
}

func testNoteForTheOwnerNotifies(t *testing.T, open Open) {
	var mu sync.Mutex
	var got []crm.Notice
	st, _ := newStore(t, open, salesTeam(), func(_ context.Context, n crm.Notice) {
		mu.Lock()
		got = append(got, n)
		mu.Unlock()
	})
	ctx := context.Background()
	capture(t, st, "c1", "ana@acme.io")
	res, err := st.Create(ctx, crm.Source{Conversation: "c1", Agent: &crm.Agent{ID: "a4", Name: "Sue", Teams: []string{"support"}}},
		rec("note", crm.Key("c1", "a4", "n1"), map[string]any{"content": "Wants a call today", "about": "owner"}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Record.Owner == "" || res.Record.AboutID != res.Person.ID {
		t.Fatalf("note = %+v", res.Record)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].To != res.Person.Owner || got[0].Kind != "sales_note" {
		t.Fatalf("notices = %+v", got)
	}
	feed, err := st.Feed(ctx, res.Person.ID, crm.FeedNotes, 0)
	if err != nil || len(feed) != 1 || feed[0].Record.Content != "Wants a call today" {
		t.Fatalf("notes feed = %+v, %v", feed, err)
	}
}

func testFeedHasChatsNotesAndRecords(t *testing.T, open Open) {
	start := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	e := open(t)
	st := crm.New(e.CRM, e.Outbox, crm.Options{Agents: salesTeam(), Now: func() time.Time { return start.Add(5 * time.Minute) }})
	ctx := context.Background()
	src := crm.Source{Conversation: "c1", Chat: &crm.Chat{Conversation: "c1", StartedAt: start, FirstMessage: "Talk to sales"}}
	res, err := st.Create(ctx, src, rec("lead", "c1:1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": "ana@acme.io"}}))
	if err != nil {
		t.Fatal(err)
	}
	pid := res.Person.ID
	// A later conversation of the same visitor, with no record, links by
	// email when it ends.
	end := start.Add(26 * time.Hour)
	linked, err := st.LinkChat(ctx, crm.Chat{Conversation: "c2", StartedAt: start.Add(25 * time.Hour), EndedAt: &end, Agent: "Sam", FirstMessage: "Hi again"}, "sales", "ANA@acme.io")
	if err != nil || linked != pid {
		t.Fatalf("LinkChat = %q, %v; want %s", linked, err, pid)
	}
	all, _ := st.Feed(ctx, pid, "", 0)
	var types []string
	for _, it := range all {
		types = append(types, it.Type)
	}
	if !slices.Equal(types, []string{"chat", "record", "chat"}) {
		t.Fatalf("feed types = %v", types)
	}
	// LinkChatOf with the person the caller just read (as the service's
	// refresh after a conversation does) links as LinkChat does.
	if person, err := st.PersonOf(ctx, "c0", "ana@acme.io"); err != nil || person != pid {
		t.Fatalf("PersonOf = %q, %v; want %s", person, err, pid)
	}
	if linked, err := st.LinkChatOf(ctx, crm.Chat{Conversation: "c0", StartedAt: start.Add(-time.Hour)}, "sales", "ana@acme.io", pid); err != nil || linked != pid {
		t.Fatalf("LinkChatOf = %q, %v; want %s", linked, err, pid)
	}
	if chats, _ := st.Feed(ctx, pid, crm.FeedChats, 0); len(chats) != 3 || chats[2].Chat.Conversation != "c0" {
		t.Fatalf("chats after LinkChatOf = %+v", chats)
	}
	if all[0].Chat.Agent != "Sam" || all[0].Chat.Transcript != "/api/conversations/c2/transcript" || all[0].Chat.FirstMessage != "Hi again" {
		t.Fatalf("newest chat = %+v", all[0].Chat)
	}
	chats, _ := st.Feed(ctx, pid, crm.FeedChats, 0)
	if len(chats) != 3 {
		t.Fatalf("chats = %d", len(chats))
	}
	// The lead's feed shows its person's chats.
	leadFeed, _ := st.Feed(ctx, res.Record.ID, crm.FeedChats, 0)
	if len(leadFeed) != 3 {
		t.Fatalf("lead's chats = %d", len(leadFeed))
	}
	p, _ := st.Get(ctx, pid)
	if !slices.Contains(p.Teams, "sales") {
		t.Fatalf("person's teams %v after a sales chat", p.Teams)
	}
	if _, err := st.Feed(ctx, pid, "emails", 0); !errors.Is(err, crm.ErrInvalid) {
		t.Fatalf("unknown feed type: %v", err)
	}
}

func testUpdatePersonPhone(t *testing.T, open Open) {
	st, _ := newStore(t, open, salesTeam(), nil)
	ctx := context.Background()
	a, _ := st.Create(ctx, crm.Source{}, rec("person", "k1", map[string]any{"email": "ana@acme.io"}))
	b, _ := st.Create(ctx, crm.Source{}, rec("person", "k2", map[string]any{"email": "bo@acme.io", "phone": "+44 20 7946 0958"}))
	phone := "+1 (415) 555-0100"
	p, err := st.UpdatePerson(ctx, a.Record.ID, nil, &phone)
	if err != nil || p.Phone != "+14155550100" {
		t.Fatalf("update: %+v %v", p, err)
	}
	if got, _ := st.PersonByPhone(ctx, "+14155550100"); got == nil || got.ID != a.Record.ID {
		t.Fatalf("by phone = %v", got)
	}
	taken := "0044 20 7946 0958"
	if _, err := st.UpdatePerson(ctx, a.Record.ID, nil, &taken); !errors.Is(err, crm.ErrConflict) {
		t.Fatalf("taking bo's phone: %v", err)
	}
	bad := "call me"
	if _, err := st.UpdatePerson(ctx, a.Record.ID, nil, &bad); !errors.Is(err, crm.ErrInvalid) {
		t.Fatalf("bad phone: %v", err)
	}
	_ = b
}

// A phone that is not one is refused the same way whether or not the
// person has a phone yet (issue 11, item 15: with no phone, "12ab" used to
// answer ok and save nothing).
func testUpdatePersonPhoneValidatedWithAndWithoutPhone(t *testing.T, open Open) {
	st, _ := newStore(t, open, salesTeam(), nil)
	ctx := context.Background()
	none, _ := st.Create(ctx, crm.Source{}, rec("person", "k1", map[string]any{"email": "ana@acme.io"}))
	with, _ := st.Create(ctx, crm.Source{}, rec("person", "k2", map[string]any{"email": "bo@acme.io", "phone": "+44 20 7946 0958"}))
	for _, bad := range []string{"12ab", "call me", "12", "+1 (415) 555-0100 ext 2"} {
		for _, p := range []*crm.Record{none.Record, with.Record} {
			phone := bad
			if _, err := st.UpdatePerson(ctx, p.ID, nil, &phone); !errors.Is(err, crm.ErrInvalid) || !strings.Contains(err.Error(), "not a phone number") {
				t.Errorf("phone %q on person with phone %q: err = %v, want ErrInvalid naming the problem", bad, p.Phone, err)
			}
			got, _ := st.Get(ctx, p.ID)
			if got.Phone != p.Phone {
				t.Errorf("phone %q on person with phone %q: stored %q", bad, p.Phone, got.Phone)
			}
		}
	}
	// Clearing stays allowed, also when there is nothing to clear.
	empty := "  "
	if _, err := st.UpdatePerson(ctx, none.Record.ID, nil, &empty); err != nil {
		t.Fatalf("clearing an empty phone: %v", err)
	}
}

// testListFiltersAndCompleteTask: the filters of the inbox's CRM screens
// (stage, source playbook, open tasks due before a time) and marking a
// task done and open again, which the open filter then follows.
func testListFiltersAndCompleteTask(t *testing.T, open Open) {
	st, _ := newStore(t, open, salesTeam(), nil)
	ctx := context.Background()
	all := crm.Viewer{Admin: true}
	res := capture(t, st, "c1", "ana@acme.io")
	other, err := st.Create(ctx, crm.Source{Conversation: "c2", Playbook: "support-triage"}, rec("deal", "c2:3:x:0", map[string]any{"title": "Renewal", "stage": "Won"}))
	if err != nil {
		t.Fatal(err)
	}
	bySales, err := st.Create(ctx, crm.Source{Conversation: "c3", Playbook: "website-sales"}, rec("task", "c3:3:x:0", map[string]any{"subject": "Send the quote", "due": time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC)}))
	if err != nil {
		t.Fatal(err)
	}
	if bySales.Record.Playbook != "website-sales" {
		t.Fatalf("the task's source playbook = %q", bySales.Record.Playbook)
	}
	ids := func(q crm.Query) []string {
		t.Helper()
		list, err := st.List(ctx, all, q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		out := []string{}
		for _, r := range list {
			out = append(out, r.ID)
		}
		return out
	}
	deal, task := res[1].Record, res[2].Record
	for _, tc := range []struct {
		name string
		q    crm.Query
		want []string
	}{
		{"stage, any case", crm.Query{Kind: crm.KindDeal, Stage: "qualified"}, []string{deal.ID}},
		{"another stage", crm.Query{Kind: crm.KindDeal, Stage: "Won"}, []string{other.Record.ID}},
		{"source playbook", crm.Query{Kind: crm.KindDeal, Playbook: "support-triage"}, []string{other.Record.ID}},
		{"source playbook of tasks", crm.Query{Kind: crm.KindTask, Playbook: "website-sales"}, []string{bySales.Record.ID}},
		{"open tasks due before February 2030", crm.Query{Kind: crm.KindTask, Status: "open", DueBefore: time.Date(2030, 2, 1, 0, 0, 0, 0, time.UTC)}, []string{task.ID}},
		{"open tasks", crm.Query{Kind: crm.KindTask, Status: "open"}, []string{bySales.Record.ID, task.ID}},
	} {
		got := ids(tc.q)
		slices.Sort(got) // records made in the same millisecond have no order
		slices.Sort(tc.want)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := st.List(ctx, all, crm.Query{Kind: crm.KindTask, Status: "maybe"}); !errors.Is(err, crm.ErrInvalid) {
		t.Errorf("status maybe: %v, want ErrInvalid", err)
	}

	done, err := st.CompleteTask(ctx, task.ID, true)
	if err != nil || done.DoneAt == nil {
		t.Fatalf("CompleteTask = %+v, %v", done, err)
	}
	again, err := st.CompleteTask(ctx, task.ID, true)
	if err != nil || !again.DoneAt.Equal(*done.DoneAt) {
		t.Fatalf("done twice: %+v, %v; want the first time kept", again, err)
	}
	if got := ids(crm.Query{Kind: crm.KindTask, Status: "open"}); !slices.Equal(got, []string{bySales.Record.ID}) {
		t.Errorf("open tasks after one is done: %v", got)
	}
	if got := ids(crm.Query{Kind: crm.KindTask, Status: "done"}); !slices.Equal(got, []string{task.ID}) {
		t.Errorf("done tasks: %v", got)
	}
	if r, err := st.CompleteTask(ctx, task.ID, false); err != nil || r.DoneAt != nil {
		t.Fatalf("opened again: %+v, %v", r, err)
	}
	if got := ids(crm.Query{Kind: crm.KindTask, Status: "open"}); len(got) != 2 {
		t.Errorf("open tasks after opening it again: %v", got)
	}
	if _, err := st.CompleteTask(ctx, deal.ID, true); !errors.Is(err, crm.ErrNotFound) {
		t.Errorf("a deal marked done: %v, want ErrNotFound", err)
	}
}

// wantRecordEvents adds a webhook for the record events: the outbox gets
// them only when one wants them.
func wantRecordEvents(t *testing.T, st *crm.Store) {
	t.Helper()
	if _, err := st.AddSubscription(context.Background(), "https://crm.example.com/hooks", []string{crm.EventRecordCreated, crm.EventRecordUpdated}, ""); err != nil {
		t.Fatal(err)
	}
}
