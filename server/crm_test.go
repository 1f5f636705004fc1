package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/playbook-dev/playbook/internal/servertest"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// hookReceiver collects webhook requests and checks their signatures.
type hookReceiver struct {
	t      *testing.T
	secret string
	mu     sync.Mutex
	events map[string]crm.Event // by idempotency key
	types  map[string]int
	bad    int
}

func newHookReceiver(t *testing.T, secret string) (*hookReceiver, string) {
	h := &hookReceiver{t: t, secret: secret, events: map[string]crm.Event{}, types: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := crm.Verify(h.secret, r.Header.Get(crm.HeaderSignature), r.Header.Get(crm.HeaderTimestamp), body, time.Now(), time.Hour); err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev crm.Event
		json.Unmarshal(body, &ev)
		key := r.Header.Get(crm.HeaderIdempotencyKey)
		if _, dup := h.events[key]; !dup {
			h.types[ev.Type]++
		}
		h.events[key] = ev
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL + "/hooks/playbook"
}

func (h *hookReceiver) count(typ string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.types[typ]
}

func fastWebhooks(c *servertest.Config) {
	c.Webhooks = crm.DeliveryOptions{RetryBase: 20 * time.Millisecond, RetryCap: 200 * time.Millisecond, Poll: 20 * time.Millisecond, Timeout: 2 * time.Second, ClaimIdle: time.Second}
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// salesOffline walks a visitor through the sales playbook to its offline
// path (nobody online): a lead, a deal and a task. It returns the
// conversation and the client, whose last message had id prefix+"6".
func salesOffline(t *testing.T, ts *testServer, email, prefix string) (string, *client) {
	t.Helper()
	c := dial(t, ts)
	_, conv := c.start("website-sales")
	c.bot("Hi there! What brings you here?")
	c.send(map[string]any{"type": "button", "id": prefix + "1", "value": "Talk to sales", "label": "Talk to sales"})
	c.next("ack")
	c.bot("What's your work email?")
	for i, s := range []struct{ say, bot string }{
		{email, "How many people work at your company?"},
		{"51-200", "What's your monthly budget in USD?"},
		{"3000", "When would you like to get started? (a date like 2026-03-01)"},
		{"2030-01-15", "Our team is away right now. We'll email " + email + " within one business day."},
	} {
		c.say(fmt.Sprintf("%s%d", prefix, i+3), s.say)
		c.bot(s.bot)
	}
	c.entryOf("end", "system")
	return conv, c
}

func countKind(t *testing.T, st *crm.Store, k crm.Kind) int {
	t.Helper()
	list, err := st.List(context.Background(), crm.Viewer{Admin: true}, crm.Query{Kind: k, Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(list)
}

// TestSalesOfflinePathReachesTheCRM is the end-to-end path of the sales
// playbook with nobody online: a person, a lead, a deal and a task with
// one owner; the chat in the person's feed; a second conversation of the
// same email on the same person; a duplicate message creating nothing;
// every record and start reaching a webhook, signed.
func TestSalesOfflinePathReachesTheCRM(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/sales", fastWebhooks)
	ctx := context.Background()
	sam := addAgent(t, ts, "Sam", "sales")
	kim := addAgent(t, ts, "Kim", "sales")
	sue := addAgent(t, ts, "Sue", "support")
	st := ts.srv.Service().CRM()
	hooks, hookURL := newHookReceiver(t, "a-secret-of-some-length")
	if _, err := st.AddSubscription(ctx, hookURL, []string{crm.EventRecordCreated, crm.EventConversationStarted}, "a-secret-of-some-length"); err != nil {
		t.Fatal(err)
	}

	conv1, v1 := salesOffline(t, ts, "ana@globex.com", "m")
	eventually(t, "a person, a lead, a deal and a task", func() bool {
		return countKind(t, st, crm.KindTask) == 1
	})
	if n := []int{countKind(t, st, crm.KindPerson), countKind(t, st, crm.KindLead), countKind(t, st, crm.KindDeal), countKind(t, st, crm.KindOrganization)}; !slices.Equal(n, []int{1, 1, 1, 1}) {
		t.Fatalf("people, leads, deals, organizations = %v", n)
	}
	person, err := st.PersonByEmail(ctx, "ana@globex.com")
	if err != nil {
		t.Fatal(err)
	}
	if person.Owner != sam.ID && person.Owner != kim.ID {
		t.Fatalf("person's owner %q is not of the sales team", person.Owner)
	}
	results, _ := st.Results(ctx, conv1)
	kinds := []string{}
	for _, r := range results {
		kinds = append(kinds, string(r.Kind))
		if r.Owner != person.Owner {
			t.Errorf("%s owned by %q, the person by %q: one conversation, one owner", r.Kind, r.OwnerName, person.OwnerName)
		}
		if r.Kind != crm.KindOrganization && r.Kind != crm.KindPerson && r.PersonID != person.ID {
			t.Errorf("%s links to person %q", r.Kind, r.PersonID)
		}
	}
	if !slices.Equal(kinds, []string{"organization", "person", "lead", "deal", "task"}) {
		t.Fatalf("results of the conversation: %v", kinds)
	}
	var lead *crm.Record
	for _, r := range results {
		if r.Kind == crm.KindLead {
			lead = r
		}
	}
	if lead.Title != "ana@globex.com (51-200)" || *lead.Value != 36000 || lead.Currency != "USD" || !slices.Equal(lead.Labels, []string{"website", "chat"}) || lead.CreatedBy != "bot" || lead.CreatedByName != "Ava" {
		t.Fatalf("lead = %+v", lead)
	}

	// The owner sees the person, and the chat that made the lead: the
	// handoff card found sales away and ran its offline path, so the
	// conversation belongs to sales (no queue, no Unassigned). An admin sees
	// it too; another team does not (below).
	owner := sam
	if person.Owner == kim.ID {
		owner = kim
	}
	ac := signIn(t, ts, owner)
	var people []crm.Record
	json.Unmarshal(ac.ok("GET", "/api/people?q=ANA@globex.com", nil), &people)
	if len(people) != 1 || people[0].ID != person.ID {
		t.Fatalf("search by email = %+v", people)
	}
	ada, err := ts.srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: "ada@example.com", Name: "Ada", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, ts, ada)
	var feed []crm.FeedItem
	eventually(t, "the chat's end time in the owner's feed", func() bool {
		json.Unmarshal(ac.ok("GET", "/api/people/"+person.ID+"/feed?type=chats", nil), &feed)
		return len(feed) == 1 && feed[0].Chat.EndedAt != nil
	})
	chat := feed[0].Chat
	if chat.Conversation != conv1 || chat.FirstMessage != "Talk to sales" || chat.Outcome != "qualified" || chat.Transcript != "/api/conversations/"+conv1+"/transcript" || chat.StartedAt.IsZero() {
		t.Fatalf("chat in the feed = %+v", chat)
	}
	var transcript []map[string]any
	json.Unmarshal(ac.ok("GET", chat.Transcript, nil), &transcript)
	if len(transcript) < 10 {
		t.Fatalf("transcript via the feed has %d entries", len(transcript))
	}
	json.Unmarshal(admin.ok("GET", "/api/people/"+person.ID+"/feed?type=chats", nil), &feed)
	if len(feed) != 1 || feed[0].Chat.Conversation != conv1 {
		t.Fatalf("the admin's feed = %+v", feed)
	}
	json.Unmarshal(admin.ok("GET", chat.Transcript, nil), &transcript)
	if len(transcript) < 10 {
		t.Fatalf("the admin reads %d entries", len(transcript))
	}
	// Recorded, not queued: the chat is in no folder of the team.
	for _, folder := range []string{"unassigned", "open", "mine", "missed"} {
		var list []map[string]any
		json.Unmarshal(ac.ok("GET", "/api/conversations?folder="+folder, nil), &list)
		for _, c := range list {
			if c["id"] == conv1 {
				t.Fatalf("the offline path's chat is in the owner's %s folder: %v", folder, c)
			}
		}
	}
	json.Unmarshal(ac.ok("GET", "/api/people/"+person.ID+"/feed?type=records", nil), &feed)
	if len(feed) != 3 {
		t.Fatalf("records in the person's feed = %d, want lead, deal, task", len(feed))
	}
	other := signIn(t, ts, sue)
	if code, _ := other.do("GET", "/api/people/"+person.ID, nil); code != 403 {
		t.Fatalf("support agent reads a sales person: %d", code)
	}
	if code, _ := other.do("GET", chat.Transcript, nil); code != 403 {
		t.Fatalf("support agent reads the transcript: %d", code)
	}
	if code, _ := other.do("GET", chat.Transcript+"?format=txt", nil); code != 403 {
		t.Fatalf("support agent reads the transcript as text: %d", code)
	}
	if code, _ := other.do("GET", "/api/conversations/"+conv1, nil); code != 403 {
		t.Fatalf("support agent reads the conversation's details: %d", code)
	}
	json.Unmarshal(other.ok("GET", "/api/people", nil), &people)
	if len(people) != 0 {
		t.Fatalf("support agent lists %d people", len(people))
	}

	// The same message again (a retry with the same client id): answered
	// as a duplicate, nothing created.
	v1.send(map[string]any{"type": "message", "id": "m6", "text": "2030-01-15"})
	if ack := v1.next("ack"); ack["duplicate"] != true {
		t.Fatalf("resend ack = %v", ack)
	}
	v1.settle() // the resend was handled: a duplicate turn runs no side effects
	if n := countKind(t, st, crm.KindLead); n != 1 {
		t.Fatalf("%d leads after a duplicate message", n)
	}

	// A second conversation from the same email: the same person.
	conv2, _ := salesOffline(t, ts, "ANA@globex.com", "n")
	eventually(t, "the second conversation's records", func() bool { return countKind(t, st, crm.KindTask) == 2 })
	if p, o := countKind(t, st, crm.KindPerson), countKind(t, st, crm.KindOrganization); p != 1 || o != 1 {
		t.Fatalf("%d people, %d organizations after the same email again", p, o)
	}
	results2, _ := st.Results(ctx, conv2)
	for _, r := range results2 {
		if r.PersonID != person.ID || r.Owner != person.Owner {
			t.Fatalf("second conversation's %s: person %q owner %q", r.Kind, r.PersonID, r.Owner)
		}
	}
	eventually(t, "both chats in the feed", func() bool {
		json.Unmarshal(admin.ok("GET", "/api/people/"+person.ID+"/feed?type=chats", nil), &feed)
		return len(feed) == 2
	})
	if feed[0].Chat.Conversation != conv2 {
		t.Fatalf("newest chat is %s, want %s", feed[0].Chat.Conversation, conv2)
	}
	// The lead's feed shows the person's chats too.
	json.Unmarshal(admin.ok("GET", "/api/leads/"+lead.ID+"/feed?type=chats", nil), &feed)
	if len(feed) != 2 {
		t.Fatalf("lead's chats = %d", len(feed))
	}

	// Webhooks: organization, person, lead, deal, task, then lead, deal,
	// task; and two starts.
	eventually(t, "every webhook", func() bool {
		return hooks.count(crm.EventRecordCreated) == 8 && hooks.count(crm.EventConversationStarted) == 2
	})
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if hooks.bad != 0 {
		t.Fatalf("%d requests with bad signatures", hooks.bad)
	}
	for _, ev := range hooks.events {
		if ev.Type != crm.EventRecordCreated {
			continue
		}
		d := ev.Data.(map[string]any)
		r := d["record"].(map[string]any)
		if r["kind"] == "lead" || r["kind"] == "deal" || r["kind"] == "task" {
			p, _ := d["person"].(map[string]any)
			conv, _ := d["conversation"].(map[string]any)
			if p == nil || p["email"] != "ana@globex.com" || conv == nil || conv["transcript"] == "" {
				t.Fatalf("record.created of a %s: %v", r["kind"], d)
			}
		}
	}
}

// TestInboxCRMPanel: an agent in a live chat sees that no person matches,
// creates a lead (twice with one client id: once), edits the phone, a
// colleague notifies the owner, a deal follows; the results list them all;
// resolving puts the agent's name and the end in the person's feed.
func TestInboxCRMPanel(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench", fastWebhooks)
	sam := addAgent(t, ts, "Sam", "sales")
	kim := addAgent(t, ts, "Kim", "sales")
	sue := addAgent(t, ts, "Sue", "support")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	samFeed := agent.feed()
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	v.say("v5", "Hello?")

	type panel struct {
		Match  string
		Email  string
		Person *struct {
			Record crm.Record
			Fields []struct {
				Key, Label string
				Value      any
			}
		}
		Organization *struct{ Record crm.Record }
		Leads        []struct{ Record crm.Record }
		Deals        []struct{ Record crm.Record }
		Results      []crm.Record
		Actions      []string
	}
	var p panel
	json.Unmarshal(agent.ok("GET", "/api/conversations/"+conv+"/crm", nil), &p)
	if p.Match != "none" || p.Email != "ana@acme.io" || p.Person != nil || !slices.Contains(p.Actions, "create_lead") || len(p.Results) != 0 {
		t.Fatalf("panel before = %+v", p)
	}
	if code, _ := agent.do("POST", "/api/conversations/"+conv+"/notify-sales", map[string]any{"text": "hi"}); code != 409 {
		t.Fatalf("notify sales with no person: %d", code)
	}
	var created struct {
		Record    crm.Record
		Duplicate bool
		CRM       panel
	}
	json.Unmarshal(agent.ok("POST", "/api/conversations/"+conv+"/lead", map[string]any{"value": 5000, "client_id": "l1"}), &created)
	if created.Record.Kind != "lead" || created.Record.Owner != sam.ID || created.Record.CreatedBy != sam.ID || created.CRM.Match != "conversation" || created.CRM.Person == nil {
		t.Fatalf("create lead = %+v", created)
	}
	if created.CRM.Person.Record.Email != "ana@acme.io" || created.CRM.Organization == nil || created.CRM.Organization.Record.Name != "Acme" {
		t.Fatalf("person %+v organization %+v", created.CRM.Person, created.CRM.Organization)
	}
	fields := map[string]any{}
	for _, f := range created.CRM.Person.Fields {
		fields[f.Key] = f.Value
	}
	if fields["email"] != "ana@acme.io" || fields["organization"] != "Acme" || fields["owner"] != "Sam" {
		t.Fatalf("person fields = %v", created.CRM.Person.Fields)
	}
	json.Unmarshal(agent.ok("POST", "/api/conversations/"+conv+"/lead", map[string]any{"value": 5000, "client_id": "l1"}), &created)
	if !created.Duplicate || len(created.CRM.Leads) != 1 {
		t.Fatalf("the same client id twice: duplicate %v, %d leads", created.Duplicate, len(created.CRM.Leads))
	}
	pid := created.CRM.Person.Record.ID
	// A bad phone on a person with no phone yet gets the same 400 as on
	// one with a phone (issue 11, item 15).
	if code, body := agent.do("PUT", "/api/people/"+pid, map[string]any{"phone": "12ab"}); code != 400 || !strings.Contains(string(body), "not a phone number") {
		t.Fatalf("a bad phone on a person without one: %d %s, want 400 with a reason", code, body)
	}
	var person crm.Record
	json.Unmarshal(agent.ok("PUT", "/api/people/"+pid, map[string]any{"phone": "+1 (415) 555-0100"}), &person)
	if person.Phone != "+14155550100" {
		t.Fatalf("phone = %q", person.Phone)
	}
	if code, body := agent.do("PUT", "/api/people/"+pid, map[string]any{"phone": "12ab"}); code != 400 || !strings.Contains(string(body), "not a phone number") {
		t.Fatalf("a bad phone: %d %s", code, body)
	}

	// Kim leaves a note for the owner: Sam hears of it.
	colleague := signIn(t, ts, kim)
	var note struct {
		Record   crm.Record
		Notified string
	}
	json.Unmarshal(colleague.ok("POST", "/api/conversations/"+conv+"/notify-sales", map[string]any{"text": "Ana wants a call today"}), &note)
	if note.Notified != "Sam" || note.Record.Kind != "note" || note.Record.AboutID != pid {
		t.Fatalf("notify sales = %+v", note)
	}
	for {
		n := samFeed.next("notify")
		if n["kind"] != "sales_note" {
			continue
		}
		if !strings.Contains(n["text"].(string), "Ana wants a call today") || n["record"] == nil {
			t.Fatalf("sales note notice = %v", n)
		}
		break
	}
	json.Unmarshal(agent.ok("POST", "/api/conversations/"+conv+"/deal", map[string]any{"title": "Acme, 200 seats", "value": 12000, "currency": "eur", "stage": "Proposal"}), &created)
	if created.Record.Kind != "deal" || created.Record.PersonID != pid || created.Record.Currency != "EUR" || created.Record.Stage != "Proposal" || len(created.CRM.Deals) != 1 {
		t.Fatalf("create deal = %+v", created.Record)
	}
	var kinds []string
	for _, r := range created.CRM.Results {
		kinds = append(kinds, string(r.Kind))
	}
	if !slices.Equal(kinds, []string{"organization", "person", "lead", "note", "deal"}) {
		t.Fatalf("results created = %v", kinds)
	}

	// Team scoping: support sees none of it.
	other := signIn(t, ts, sue)
	if code, _ := other.do("GET", "/api/people/"+pid, nil); code != 403 {
		t.Fatalf("support reads the person: %d", code)
	}
	if code, _ := other.do("GET", "/api/conversations/"+conv+"/crm", nil); code != 403 {
		t.Fatalf("support reads the panel: %d", code)
	}
	var leads []crm.Record
	json.Unmarshal(other.ok("GET", "/api/leads", nil), &leads)
	if len(leads) != 0 {
		t.Fatalf("support lists %d leads", len(leads))
	}
	json.Unmarshal(agent.ok("GET", "/api/leads?owner=me", nil), &leads)
	if len(leads) != 1 {
		t.Fatalf("Sam's leads = %d", len(leads))
	}

	// Resolving: the chat in the feed names Sam, and ends; the panel
	// still works on the closed conversation.
	agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
	var feed []crm.FeedItem
	eventually(t, "the resolved chat in the feed", func() bool {
		json.Unmarshal(agent.ok("GET", "/api/people/"+pid+"/feed", nil), &feed)
		for _, it := range feed {
			if it.Type == "chat" && it.Chat.Agent == "Sam" && it.Chat.EndedAt != nil && it.Chat.FirstMessage == "Talk to sales" {
				return true
			}
		}
		return false
	})
	types := map[string]int{}
	for _, it := range feed {
		types[it.Type]++
	}
	if types["chat"] != 1 || types["note"] != 1 || types["record"] != 2 {
		t.Fatalf("feed = %v", types)
	}
	json.Unmarshal(agent.ok("GET", "/api/conversations/"+conv+"/crm", nil), &p)
	if p.Match != "conversation" || len(p.Results) != 5 || !slices.Contains(p.Actions, "notify_sales") {
		t.Fatalf("panel after resolve = %+v", p)
	}
}

type hangingTransport struct {
	entered chan struct{}
	release chan struct{}
}

func (h *hangingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	select {
	case h.entered <- struct{}{}:
	default:
	}
	<-h.release
	return nil, fmt.Errorf("the process was killed")
}

// TestWebhooksSurviveAKilledServer: server A takes the outbox's events and
// freezes mid-delivery (as if killed); server B, started afterwards, sends
// every one of them once A's leases run out. Nothing is lost.
func TestWebhooksSurviveAKilledServer(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	frozen := &hangingTransport{entered: make(chan struct{}, 1), release: make(chan struct{})}
	a := startServer(t, rds, "../playbooks/sales", func(c *servertest.Config) {
		fastWebhooks(c)
		c.Webhooks.Timeout, c.Webhooks.Lease, c.Webhooks.ClaimIdle = time.Second, 1500*time.Millisecond, time.Second
		c.Webhooks.Client = &http.Client{Transport: frozen}
	})
	t.Cleanup(func() { close(frozen.release) }) // runs before the servers stop
	hooks, hookURL := newHookReceiver(t, "a-secret-of-some-length")
	if _, err := a.srv.Service().CRM().AddSubscription(ctx, hookURL, []string{crm.EventRecordCreated}, "a-secret-of-some-length"); err != nil {
		t.Fatal(err)
	}
	salesOffline(t, a, "bo@initech.com", "m")
	select {
	case <-frozen.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("server A never tried to deliver")
	}
	started := time.Now()
	startServer(t, rds, "../playbooks/sales", func(c *servertest.Config) {
		fastWebhooks(c)
		c.Webhooks.ClaimIdle = time.Second
	})
	// Organization, person, lead, deal, task.
	eventually(t, "every record.created through server B", func() bool { return hooks.count(crm.EventRecordCreated) == 5 })
	t.Logf("server B delivered all 5 events %s after A froze", time.Since(started).Round(10*time.Millisecond))
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if len(hooks.events) != 5 || hooks.bad != 0 {
		t.Fatalf("%d distinct events, %d bad signatures", len(hooks.events), hooks.bad)
	}
}
