package conversation_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/transcript"
)

// The CRM panel, the CRM API and transcript mail, on the embedded engine
// in a temporary directory: no HTTP, no network, fast under -short.

// mailbox is a Mailer that keeps what it is asked to send, or fails.
type mailbox struct {
	mu   sync.Mutex
	fail bool
	sent []string // "to|subject|body"
}

func (m *mailbox) Send(_ context.Context, to, subject, body string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return errors.New("554 the mail server is down")
	}
	m.sent = append(m.sent, to+"|"+subject+"|"+body)
	return nil
}

func (m *mailbox) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

type crmFixture struct {
	svc           *conversation.Service
	sessions      store.SessionStore
	inbox         *handoff.Store
	crm           *crm.Store
	mail          *mailbox
	desk          *engine.Program
	reg           *conversation.Registry
	sam, kim, sue *handoff.Agent
	admin         *handoff.Agent
	// now is the clock; see fixture.now.
	now time.Time
	mu  sync.Mutex
}

// advance moves the fixture's clock by d.
func (f *crmFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// newCRMFixture runs a service on the embedded engine with the desk
// playbook (hands off to sales), the agents Sam and Kim (sales), Sue
// (support) and an admin, and a mailbox; fields is Config.CRMFields;
// more are more playbooks to load.
func newCRMFixture(t testing.TB, fields map[string][]string, more ...string) *crmFixture {
	t.Helper()
	ctx := context.Background()
	f := &crmFixture{mail: &mailbox{}, now: time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)}
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	db, err := embedded.Open(t.TempDir(), embedded.Options{SweepEvery: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng := embedded.NewEngine(db)
	f.sessions = eng.Sessions(store.SessionOptions{TTL: time.Hour, Pending: conversation.LeavesWork})
	f.inbox = handoff.NewStore(eng.Inbox(), handoff.Options{Alive: f.sessions.Alive, PasswordCost: bcrypt.MinCost, Now: clock})
	f.crm = crm.New(eng.CRM(), eng.CRM(), crm.Options{Agents: conversation.Agents(f.inbox), Now: clock})
	dir := t.TempDir()
	for i, src := range append([]string{desk}, more...) {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("p%d.yaml", i)), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := conversation.NewRegistry(dir, eng.Programs(time.Hour), quiet(), clock)
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("loading the playbook: %v %v", diags, err)
	}
	f.svc, err = conversation.New(conversation.Config{
		Store: f.sessions, Timers: eng.Timers(), Inbox: f.inbox, CRM: f.crm, Registry: reg, Publisher: eng.Bus(),
		Presence: salesOnline{}, Logger: quiet(), Now: clock, CRMFields: fields,
		Mail: f.mail, MailQuota: eng.Mail(),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.desk, _ = reg.Current("desk")
	f.reg = reg
	add := func(name string, role handoff.Role, teams ...string) *handoff.Agent {
		a, err := f.inbox.AddAgent(ctx, handoff.NewAgent{Email: strings.ToLower(name) + "@example.com", Name: name, Teams: teams, Role: role, Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.sam, f.kim, f.sue = add("Sam", "", "sales"), add("Kim", "", "sales"), add("Sue", "", "support")
	f.admin = add("Ada", handoff.RoleAdmin)
	return f
}

// chat starts a desk chat (queued for sales) with a visitor.
func (f *crmFixture) chat(t testing.TB, v engine.Visitor) string {
	t.Helper()
	sess, _, err := f.svc.Start(context.Background(), conversation.StartRequest{Program: f.desk, Visitor: v}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != engine.StatusHandoff {
		t.Fatalf("the desk playbook did not hand off: %s", sess.Status)
	}
	return sess.ID
}

// status is the HTTP status an error is answered with (200 for none, 500
// for an internal one).
func status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	if p := conversation.ProblemOf(err); p != nil {
		return p.Status
	}
	return http.StatusInternalServerError
}

// TestPanelAndLeadFromChat: a chat whose visitor matches nobody offers a
// lead; the lead Sam makes from it is pre-filled from the visitor (their
// email and name, "Chat with Ana", source inbox), creates the person, and
// the panel then shows them (matched by the conversation, with the
// configured fields) with the lead and the result; the same client id
// creates once.
func TestPanelAndLeadFromChat(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, map[string][]string{"person": {"name", "email", "custom.plan"}})
	conv := f.chat(t, engine.Visitor{Name: "Ana", Email: "Ana@Acme.io"})

	p, err := f.svc.Panel(ctx, f.sam, conv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Match != "none" || p.Person != nil || p.Email != "ana@acme.io" || p.Name != "Ana" || !slices.Equal(p.Actions, []string{"create_lead", "create_deal"}) {
		t.Fatalf("the panel of a chat with nobody known: %+v", p)
	}
	if p.Leads == nil || p.Deals == nil || p.Results == nil {
		t.Fatalf("the panel's lists are null on the wire: %+v", p)
	}

	res, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{ClientID: "lead-1"})
	if err != nil {
		t.Fatal(err)
	}
	lead := res.Record
	if lead.Kind != "lead" || lead.Title != "Chat with Ana" || lead.Source != "inbox" || lead.Person == "" || res.Duplicate {
		t.Fatalf("the lead from the chat: %+v (duplicate %v)", lead, res.Duplicate)
	}
	person, err := f.crm.Get(ctx, lead.Person)
	if err != nil || person.Email != "ana@acme.io" || person.Name != "Ana" {
		t.Fatalf("the lead's person: %+v, %v", person, err)
	}
	p = res.CRM
	if p.Match != "conversation" || p.Person == nil || p.Person.Record.ID != person.ID {
		t.Fatalf("the refreshed panel does not show the person: %+v", p)
	}
	var keys []string
	for _, fl := range p.Person.Fields {
		keys = append(keys, fl.Key+"="+fl.Label)
	}
	if !slices.Equal(keys, []string{"name=Name", "email=Email"}) {
		t.Fatalf("the person's panel fields are %q, want the configured ones the person has", keys)
	}
	if len(p.Leads) != 1 || p.Leads[0].Record.ID != lead.ID || len(p.Leads[0].Fields) == 0 {
		t.Fatalf("the panel's leads: %+v", p.Leads)
	}
	var made []string
	for _, r := range p.Results {
		made = append(made, r.Kind)
	}
	if !slices.Contains(made, "lead") || !slices.Contains(made, "person") {
		t.Fatalf("the panel's results are %q, want every record the lead made", made)
	}
	if !slices.Contains(p.Actions, "create_deal") || !slices.Contains(p.Actions, "edit_phone") || slices.Contains(p.Actions, "create_lead") {
		t.Fatalf("the actions with a person Sam may see: %q", p.Actions)
	}

	again, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{ClientID: "lead-1"})
	if err != nil || !again.Duplicate || again.Record.ID != lead.ID {
		t.Fatalf("the same client id again: %+v, %v; want the same lead, duplicate", again, err)
	}
	leads, err := f.svc.Records(ctx, f.sam, conversation.RecordQuery{Kind: conversation.KindLead})
	if err != nil || len(leads) != 1 {
		t.Fatalf("Sam's leads: %d, %v; want 1", len(leads), err)
	}

	deal, err := f.svc.CreateFromChat(ctx, f.kim, conv, conversation.KindDeal, protocol.RecordRequest{Value: ptr(1200.0), Currency: "EUR"})
	if err != nil {
		t.Fatal(err)
	}
	if d := deal.Record; d.Title != "Deal with Ana" || d.Value == nil || *d.Value != 1200 || d.Person != person.ID {
		t.Fatalf("Kim's deal: %+v", d)
	}
}

func ptr[T any](v T) *T { return &v }

// TestPanelPrefillsFromWhatTheBotCollected: the create forms of a chat's
// panel start with the lead and deal the playbook's own capture card
// would make from the vars so far (value from the budget, the size in
// the title, the start date as the expected close, the source); a lead
// made with them keeps the playbook's source.
func TestPanelPrefillsFromWhatTheBotCollected(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil, `playbook: prefill
vars:
  company_size: {type: string, default: "51-200", label: Company size}
  budget: {type: number, default: 2500}
  start_date: date
cards:
  hi:
    handoff:
      team: sales
      offline: capture
  capture:
    create:
      lead:
        title: "{{ visitor.email }} ({{ company_size }})"
        value: budget * 12
        currency: "USD"
        source: "website chat"
        note: "Starts {{ start_date }}"
      deal:
        title: "{{ visitor.email }}: {{ company_size }} employees"
        stage: "Qualified"
        pipeline: "Sales"
        expected_close: start_date
    end: qualified
`)
	prog, ok := f.reg.Current("prefill")
	if !ok {
		t.Fatal("the prefill playbook did not load")
	}
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: prog, Visitor: engine.Visitor{Email: "ana@acme.io"}}, nil)
	if err != nil || sess.Status != engine.StatusHandoff {
		t.Fatalf("start: %v, %v", sess, err)
	}
	p, err := f.svc.Panel(ctx, f.sam, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	lead, deal := p.Prefill["lead"], p.Prefill["deal"]
	if lead == nil || lead.Title != "ana@acme.io (51-200)" || lead.Value == nil || *lead.Value != 30000 || lead.Currency != "USD" || lead.Source != "website chat" {
		t.Fatalf("the lead's prefill: %+v", lead)
	}
	if deal == nil || deal.Title != "ana@acme.io: 51-200 employees" || deal.Stage != "Qualified" || deal.Pipeline != "Sales" || deal.ExpectedClose != "" {
		t.Fatalf("the deal's prefill: %+v", deal)
	}
	res, err := f.svc.CreateFromChat(ctx, f.sam, sess.ID, conversation.KindLead, *lead)
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Record; r.Title != lead.Title || r.Source != "website chat" || r.Value == nil || *r.Value != 30000 || r.Playbook != "prefill" {
		t.Fatalf("the lead made from the prefill: %+v", r)
	}

	// The details name the labelled var by its label, and only that one.
	d, err := f.svc.DetailsView(ctx, f.sam, sess.ID)
	if err != nil || len(d.VarLabels) != 1 || d.VarLabels["company_size"] != "Company size" {
		t.Fatalf("the details' var labels: %v, %v", d.VarLabels, err)
	}

	// The desk playbook creates nothing: no prefill.
	if p, err := f.svc.Panel(ctx, f.sam, f.chat(t, engine.Visitor{Email: "bo@acme.io"})); err != nil || p.Prefill != nil {
		t.Fatalf("the desk chat's prefill: %+v, %v", p.Prefill, err)
	}
}

// TestRecordsAskTheAccessPolicy: another team's agent gets neither the
// lead, its person's details, feed nor an update (403, naming the kind);
// a record of another kind under that path is not found (404); the
// lists leave it out; the admin sees all. A chat in a person's feed is
// shown by its conversation's rule.
func TestRecordsAskTheAccessPolicy(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	conv := f.chat(t, engine.Visitor{Name: "Ana", Email: "ana@acme.io"})
	res, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{Title: "Big one"})
	if err != nil {
		t.Fatal(err)
	}
	lead, person := res.Record.ID, res.Record.Person
	if _, err := f.crm.LinkChat(ctx, crm.Chat{Conversation: conv, StartedAt: f.now}, "sales", "ana@acme.io"); err != nil {
		t.Fatal(err)
	}

	_, err = f.svc.Record(ctx, f.sue, conversation.KindLead, lead)
	if status(err) != http.StatusForbidden || !strings.Contains(err.Error(), "this lead belongs to another team") {
		t.Fatalf("Sue reads sales' lead: %v (%d), want 403 naming the lead", err, status(err))
	}
	if _, err := f.svc.Feed(ctx, f.sue, conversation.KindPerson, person, "", 0); status(err) != http.StatusForbidden {
		t.Fatalf("Sue reads the person's feed: %v, want 403", err)
	}
	if _, err := f.svc.UpdatePerson(ctx, f.sue, person, nil, ptr("+44 20 7946 0000")); status(err) != http.StatusForbidden {
		t.Fatalf("Sue updates the person: %v, want 403", err)
	}
	if _, err := f.svc.Record(ctx, f.sam, conversation.KindDeal, lead); status(err) != http.StatusNotFound {
		t.Fatalf("a lead read as a deal: %v, want 404", err)
	}
	if list, err := f.svc.Records(ctx, f.sue, conversation.RecordQuery{Kind: conversation.KindLead}); err != nil || len(list) != 0 {
		t.Fatalf("Sue's leads: %d, %v; want none", len(list), err)
	}
	if list, err := f.svc.Records(ctx, f.sam, conversation.RecordQuery{Kind: conversation.KindLead, Owner: "me"}); err != nil || len(list) != 1 || list[0].Owner != f.sam.ID {
		t.Fatalf("leads Sam owns: %+v, %v; want the one he made", list, err)
	}
	if list, err := f.svc.Records(ctx, f.kim, conversation.RecordQuery{Kind: conversation.KindLead, Owner: "me"}); err != nil || len(list) != 0 {
		t.Fatalf("leads Kim owns: %d, %v; want none", len(list), err)
	}

	d, err := f.svc.Record(ctx, f.sam, conversation.KindPerson, person)
	if err != nil {
		t.Fatal(err)
	}
	if d.Record.ID != person || len(d.Leads) != 1 || d.Leads[0].ID != lead || d.Deals == nil || d.Tasks == nil || d.People != nil {
		t.Fatalf("the person's details: %+v", d)
	}
	feed, err := f.svc.Feed(ctx, f.sam, conversation.KindPerson, person, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	chats := 0
	for _, it := range feed {
		if it.Chat != nil && it.Chat.Conversation == conv {
			chats++
		}
	}
	if chats != 1 {
		t.Fatalf("Sam's feed of the person has %d items of the chat, want 1: %+v", chats, feed)
	}
	// Ana also wrote to support: a support agent who may see that person
	// now, by the CRM's rule, still does not get the sales chat.
	if _, err := f.crm.LinkChat(ctx, crm.Chat{Conversation: "a-support-chat", StartedAt: f.now}, "support", "ana@acme.io"); err != nil {
		t.Fatal(err)
	}
	feed, err = f.svc.Feed(ctx, f.sue, conversation.KindPerson, person, "chats", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range feed {
		if it.Chat != nil && it.Chat.Conversation == conv {
			t.Fatalf("Sue's feed shows the sales chat: %+v", feed)
		}
	}
	if p, err := f.svc.UpdatePerson(ctx, f.sam, person, nil, ptr("12ab")); status(err) != http.StatusBadRequest {
		t.Fatalf("a phone that is not one: %+v, %v; want 400", p, err)
	}
}

// TestLeadFromChatDoesNotPullAnotherTeamsPerson: an email typed into a
// lead that belongs to a person of another team is refused (403) and
// nothing is made; the visitor's own email is the chat's own person.
func TestLeadFromChatDoesNotPullAnotherTeamsPerson(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	if _, err := f.crm.Create(ctx, crm.Source{Team: "support"}, engine.Record{Kind: "lead", Key: "support-bob", Fields: map[string]any{"title": "Bob", "person": map[string]any{"email": "bob@bobs.io"}}}); err != nil {
		t.Fatal(err)
	}
	conv := f.chat(t, engine.Visitor{Name: "Bob", Email: "bob@bobs.io"})
	other := f.chat(t, engine.Visitor{Name: "Cy"})
	if _, err := f.svc.CreateFromChat(ctx, f.sam, other, conversation.KindLead, protocol.RecordRequest{Email: "bob@bobs.io"}); status(err) != http.StatusForbidden {
		t.Fatalf("Sam pulls support's Bob into a chat with Cy: %v, want 403", err)
	}
	if list, _ := f.crm.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindLead}); len(list) != 1 {
		t.Fatalf("a refused lead was made: %d leads", len(list))
	}
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{Email: "bob@bobs.io"}); err != nil {
		t.Fatalf("a lead for the chat's own visitor: %v", err)
	}
	if _, err := f.svc.CreateFromChat(ctx, f.sue, conv, conversation.KindLead, protocol.RecordRequest{}); status(err) != http.StatusForbidden {
		t.Fatalf("Sue makes a lead from a sales chat: %v, want 403", err)
	}
}

// TestNotifySales: a note needs a person (409 before), and a text (400);
// then it goes to the person's owner, who is named.
func TestNotifySales(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	conv := f.chat(t, engine.Visitor{Name: "Ana", Email: "ana@acme.io"})
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindNote, protocol.RecordRequest{Text: "call her"}); status(err) != http.StatusConflict {
		t.Fatalf("a note with no person: %v, want 409", err)
	}
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{Owner: f.kim.Email}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindNote, protocol.RecordRequest{Text: "  "}); status(err) != http.StatusBadRequest {
		t.Fatalf("a blank note: %v, want 400", err)
	}
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{ClientID: strings.Repeat("x", 101)}); status(err) != http.StatusBadRequest {
		t.Fatalf("a client id of 101 characters: %v, want 400", err)
	}
	res, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindNote, protocol.RecordRequest{Note: "wants a quote"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Record.Kind != "note" || res.Record.Content != "wants a quote" || res.Record.About != "owner" {
		t.Fatalf("the note: %+v", res.Record)
	}
	if res.CRM.Person == nil || res.CRM.Person.Record.Owner == "" || res.Notified != res.Record.OwnerName || res.Notified == "" {
		t.Fatalf("the note names whom it went to: %q, person %+v", res.Notified, res.CRM.Person)
	}
}

// TestMailTranscript: the visitor's copy leaves private notes out, the
// agents' copy goes only to an agent who may read the chat (the asking
// one when "to" is blank); a failing mail server is ErrMailFailed (502)
// and never its cause; no mailer is 501.
func TestMailTranscript(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	conv := f.chat(t, engine.Visitor{Name: "Ana", Email: "ana@acme.io"})
	if _, err := f.svc.Take(ctx, f.sam, conv, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reply(ctx, f.sam, conv, "Hello Ana", "r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Note(ctx, f.sam, conv, "SECRET: she is a churn risk", "n1"); err != nil {
		t.Fatal(err)
	}

	if err := f.svc.MailTranscript(ctx, f.sam, conv, "someone@elsewhere.io", false); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.MailTranscript(ctx, f.sam, conv, "", true); err != nil {
		t.Fatal(err)
	}
	sent := f.mail.all()
	if len(sent) != 2 {
		t.Fatalf("sent %d mails, want 2", len(sent))
	}
	if !strings.HasPrefix(sent[0], "someone@elsewhere.io|") || !strings.Contains(sent[0], "Hello Ana") || strings.Contains(sent[0], "SECRET") {
		t.Fatalf("the visitor's copy: %q", sent[0])
	}
	if !strings.HasPrefix(sent[1], "sam@example.com|") || !strings.Contains(sent[1], "SECRET") {
		t.Fatalf("the internal copy to Sam: %q", sent[1])
	}

	for _, c := range []struct {
		name   string
		a      *handoff.Agent
		to     string
		status int
	}{
		{"internal copy to an outsider", f.sam, "someone@elsewhere.io", http.StatusForbidden},
		{"internal copy to an agent of another team", f.sam, f.sue.Email, http.StatusForbidden},
		{"two addresses", f.sam, "a@b.io, c@d.io", http.StatusBadRequest},
		{"another team's agent asks", f.sue, f.sue.Email, http.StatusForbidden},
	} {
		err := f.svc.MailTranscript(ctx, c.a, conv, c.to, true)
		if status(err) != c.status {
			t.Errorf("%s: %v (%d), want %d", c.name, err, status(err), c.status)
		}
	}
	if err := f.svc.MailTranscript(ctx, f.sam, conv, f.kim.Email, true); err != nil {
		t.Fatalf("internal copy to Kim of sales: %v", err)
	}

	f.mail.fail = true
	err := f.svc.MailTranscript(ctx, f.sam, conv, "someone@elsewhere.io", false)
	if !errors.Is(err, conversation.ErrMailFailed) || status(err) != http.StatusBadGateway || strings.Contains(conversation.ProblemOf(err).Message, "554") {
		t.Fatalf("a failing mail server: %v, want ErrMailFailed without its cause", err)
	}
}

// TestVisitorTranscriptMail: the visitor's mail waits for the end, goes
// only to the visitor's own address, and a mail that failed does not
// count against the visitor's three.
func TestVisitorTranscriptMail(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	conv := f.chat(t, engine.Visitor{Name: "Ana", Email: "ana@acme.io"})
	code := func(err error) protocol.Code {
		if p := conversation.ProblemOf(err); p != nil {
			return p.Code
		}
		return ""
	}
	if err := f.svc.MailVisitorTranscript(ctx, conv, "ana@acme.io"); code(err) != protocol.CodeNotEnded {
		t.Fatalf("before the end: %v, want not_ended", err)
	}
	if _, err := f.svc.Take(ctx, f.sam, conv, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Resolve(ctx, f.sam, conv); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.MailVisitorTranscript(ctx, conv, "mallory@evil.io"); code(err) != protocol.CodeWrongAddress {
		t.Fatalf("to another address: %v, want wrong_address", err)
	}
	if err := f.svc.MailVisitorTranscript(ctx, conv, "not an address"); code(err) != protocol.CodeInvalid || !strings.HasPrefix(err.Error(), "email must be") {
		t.Fatalf("to no address: %v, want invalid naming the field", err)
	}
	f.mail.fail = true
	if err := f.svc.MailVisitorTranscript(ctx, conv, "ana@acme.io"); code(err) != protocol.CodeMailFailed {
		t.Fatalf("a failing mail server: %v, want mail_failed", err)
	}
	f.mail.fail = false
	for i := range 3 {
		if err := f.svc.MailVisitorTranscript(ctx, conv, "Ana@acme.io"); err != nil {
			t.Fatalf("mail %d of 3 (the failed one does not count): %v", i+1, err)
		}
	}
	if err := f.svc.MailVisitorTranscript(ctx, conv, "ana@acme.io"); code(err) != protocol.CodeLimitReached {
		t.Fatalf("a fourth mail: %v, want limit_reached", err)
	}
	if n := len(f.mail.all()); n != 3 {
		t.Fatalf("%d mails sent, want 3", n)
	}
	if err := f.svc.MailVisitorTranscript(ctx, "no-such-conversation", "ana@acme.io"); code(err) != protocol.CodeNotFound {
		t.Fatalf("an unknown conversation: %v, want not_found", err)
	}
}

// TestProblemOf: every domain error maps to one status and code, a
// message for people overrides its kind's, and anything else is internal.
func TestProblemOf(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   protocol.Code
	}{
		{crm.ErrNotFound, 404, protocol.CodeNotFound},
		{crm.ErrInvalid, 400, protocol.CodeInvalid},
		{crm.ErrConflict, 409, protocol.CodeInvalid},
		{access.ErrForbidden, 403, protocol.CodeForbidden},
		{access.ErrSignedOut, 401, protocol.CodeForbidden},
		{handoff.ErrNotFound, 404, protocol.CodeNotFound},
		{handoff.ErrTaken, 409, protocol.CodeInvalid},
		{store.ErrNotFound, 404, protocol.CodeNotFound},
		{transcript.ErrNoMail, 501, protocol.CodeMailUnavailable},
		{transcript.ErrNotAgent, 403, protocol.CodeForbidden},
		{conversation.ErrMailFailed, 502, protocol.CodeMailFailed},
	} {
		p := conversation.ProblemOf(c.err)
		if p == nil || p.Status != c.status || p.Code != c.code || p.Message == "" {
			t.Errorf("ProblemOf(%v) = %+v, want %d %s", c.err, p, c.status, c.code)
		}
	}
	if p := conversation.ProblemOf(errors.New("dial tcp 10.0.0.1:6379: connection refused")); p != nil {
		t.Errorf("an internal error is a problem: %+v", p)
	}
	if p := conversation.ProblemOf(nil); p != nil {
		t.Errorf("ProblemOf(nil) = %+v", p)
	}
}

// drain waits for the service's background work (a turn's CRM work runs
// there): Run, on a context already cancelled, returns once it is done.
func (f *crmFixture) drain(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.svc.Run(ctx, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
}

// TestLinkedTranscriptOutlivesItsSession: a resolved chat with a person
// keeps its transcript (the person's feed links it; nothing is copied into
// the CRM): once its session has expired, the agent's read pages like the
// live one (entries after an id), and a mailed transcript is made from it,
// still without private notes. A resolved chat with nobody keeps nothing;
// an archived copy an older version wrote for it is still read.
func TestLinkedTranscriptOutlivesItsSession(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	conv := f.chat(t, engine.Visitor{Name: "Ana", Email: "ana@acme.io"})
	if _, err := f.svc.CreateFromChat(ctx, f.sam, conv, conversation.KindLead, protocol.RecordRequest{}); err != nil {
		t.Fatal(err)
	}
	nobody := f.chat(t, engine.Visitor{Name: "Bo"})
	for _, c := range []string{conv, nobody} {
		if _, err := f.svc.Take(ctx, f.sam, c, ""); err != nil {
			t.Fatal(err)
		}
	}
	hello, err := f.svc.Reply(ctx, f.sam, conv, "Hello Ana", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Note(ctx, f.sam, conv, "SECRET: churn risk", "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Reply(ctx, f.sam, nobody, "Hello Bo", "r2"); err != nil {
		t.Fatal(err)
	}
	older, err := f.sessions.Transcript(ctx, nobody, "", 0)
	if err != nil || len(older) == 0 {
		t.Fatalf("Bo's transcript: %+v, %v", older, err)
	}
	for _, c := range []string{conv, nobody} {
		if _, err := f.svc.Resolve(ctx, f.sam, c); err != nil {
			t.Fatal(err)
		}
	}
	f.drain(t)

	f.advance(2 * time.Hour) // past the sessions' TTL (1h)
	if alive, err := f.sessions.Alive(ctx, []string{conv, nobody}); err != nil || alive[conv] || alive[nobody] {
		t.Fatalf("the sessions have not expired: %v, %v", alive, err)
	}
	if live, err := f.sessions.Transcript(ctx, nobody, "", 0); err != nil || len(live) != 0 {
		t.Fatalf("the transcript of a chat with nobody outlived its session: %d entries, %v", len(live), err)
	}
	if _, ok := f.svc.ArchivedTranscript(ctx, conv, ""); ok {
		t.Fatal("the transcript of the chat with a person was copied into the CRM")
	}
	all, err := f.svc.Transcript(ctx, f.sam, conv, "")
	if err != nil || !slices.ContainsFunc(all, func(e protocol.Entry) bool { return e.Text == "Hello Ana" }) {
		t.Fatalf("the kept transcript: %+v, %v; want the chat with Sam's reply", all, err)
	}
	after, err := f.svc.Transcript(ctx, f.sam, conv, hello.ID)
	if err != nil || len(after) == 0 || len(after) >= len(all) || slices.ContainsFunc(after, func(e protocol.Entry) bool { return e.ID == hello.ID || e.Text == "Hello Ana" }) {
		t.Fatalf("the kept transcript after the reply: %+v, %v; want only the entries after it", after, err)
	}
	if err := f.svc.MailTranscript(ctx, f.sam, conv, "ana@acme.io", false); err != nil {
		t.Fatal(err)
	}
	sent := f.mail.all()
	if len(sent) != 1 || !strings.Contains(sent[0], "Hello Ana") || strings.Contains(sent[0], "SECRET") {
		t.Fatalf("the mail of an expired chat: %q; want its messages without the note", sent)
	}

	// An archive an older version wrote (a copy in the CRM) is read once
	// the live transcript is gone.
	b, err := store.EncodeEntries(older)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.crm.ArchiveTranscript(ctx, nobody, b); err != nil {
		t.Fatal(err)
	}
	got, err := f.svc.Transcript(ctx, f.sam, nobody, "")
	if err != nil || len(got) != len(older) || !slices.ContainsFunc(got, func(e protocol.Entry) bool { return e.Text == "Hello Bo" }) {
		t.Fatalf("the older archive: %+v, %v; want %d entries with Sam's reply", got, err, len(older))
	}
}

// TestPanelShowsWhomTheChatIsWith: a sales agent sees the person a sales
// chat is with even when the person belongs to support (matched by the
// visitor's email), but not support's leads, and may not edit them; an
// admin sees and may edit everything.
func TestPanelShowsWhomTheChatIsWith(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil)
	if _, err := f.crm.Create(ctx, crm.Source{Team: "support"}, engine.Record{Kind: "lead", Key: "support-bob", Fields: map[string]any{"title": "Support's Bob", "person": map[string]any{"email": "bob@bobs.io", "name": "Bob"}}}); err != nil {
		t.Fatal(err)
	}
	conv := f.chat(t, engine.Visitor{Email: "Bob@Bobs.io"})
	p, err := f.svc.Panel(ctx, f.sam, conv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Match != "email" || p.Person == nil || p.Person.Record.Name != "Bob" {
		t.Fatalf("Sam's panel: %+v; want Bob, matched by email", p)
	}
	if len(p.Leads) != 0 || slices.Contains(p.Actions, "edit_phone") || !slices.Contains(p.Actions, "create_deal") {
		t.Fatalf("Sam sees support's leads %+v or may edit Bob: actions %q", p.Leads, p.Actions)
	}
	if _, err := f.svc.Panel(ctx, f.sue, conv); status(err) != http.StatusForbidden {
		t.Fatalf("Sue opens the sales chat's panel: %v, want 403", err)
	}
	p, err = f.svc.Panel(ctx, f.admin, conv)
	if err != nil || len(p.Leads) != 1 || !slices.Contains(p.Actions, "edit_phone") {
		t.Fatalf("the admin's panel: %+v, %v; want support's lead and edit_phone", p, err)
	}
}

const callback = `playbook: callback
vars:
  phone: {type: phone}
cards:
  ask:
    ask: Your phone?
    input: phone
    save: phone
  desk:
    handoff:
      team: sales
      say: Connecting you to sales...
      offline: away
  away:
    say: Nobody is here.
    end: away
`

// TestPanelMatchesByPhone: a visitor who left no email but typed a phone
// the CRM knows is matched by it ("phone").
func TestPanelMatchesByPhone(t *testing.T) {
	ctx := context.Background()
	f := newCRMFixture(t, nil, callback)
	if _, err := f.crm.Create(ctx, crm.Source{Team: "sales"}, engine.Record{Kind: "lead", Key: "cy", Fields: map[string]any{"title": "Cy", "person": map[string]any{"name": "Cy", "phone": "+44 20 7946 0018"}}}); err != nil {
		t.Fatal(err)
	}
	prog, ok := f.svc.Registry().Current("callback")
	if !ok {
		t.Fatal("the callback playbook is not loaded")
	}
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: prog}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := store.Entry{From: "visitor", Kind: "message", Text: "+44 20 7946 0018", ClientID: "m1", At: f.now}
	if _, info, err := f.svc.Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: msg.Text}, &msg); err != nil || info.Status != engine.StatusHandoff {
		t.Fatalf("the phone turn: %+v, %v; want a handoff", info, err)
	}
	p, err := f.svc.Panel(ctx, f.sam, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Match != "phone" || p.Person == nil || p.Person.Record.Name != "Cy" || p.Phone == "" {
		t.Fatalf("the panel of a chat with Cy's phone: %+v", p)
	}
}
