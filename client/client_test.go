package client_test

import (
	"context"
	"encoding/json"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/servertest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/server"
)

// startServer runs a server on the bench playbook, on Redis.
func startServer(t *testing.T) (*server.Server, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Redis and a server")
	}
	rds := redistest.New(t)
	srv, err := servertest.New(servertest.Config{Engine: redisstore.NewEngine(rds.Client, rds.Prefix), Options: conversation.Options{
		Playbooks: "../playbooks/bench", Prefix: rds.Prefix,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), PasswordCost: bcrypt.MinCost,
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		cancel()
		<-done
	})
	servertest.AwaitListening(t, srv)
	return srv, hs.URL
}

// wire reads the next frame and checks it against its bytes: decoded into
// its type and encoded again, it is the same JSON value the server sent
// (no field lost, renamed or added).
func wire(t *testing.T, c *client.Conn) protocol.Frame {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // a guard against a hang
	defer cancel()
	r, err := c.NextRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Frame.(*protocol.Unknown); ok {
		t.Fatalf("a frame of a type the protocol package does not know: %s", r.Raw)
	}
	again, err := protocol.Encode(r.Frame)
	if err != nil {
		t.Fatal(err)
	}
	var sent, typed interface{}
	json.Unmarshal(r.Raw, &sent)
	json.Unmarshal(again, &typed)
	if !reflect.DeepEqual(sent, typed) {
		t.Fatalf("the typed %T differs from the wire:\nsent  %s\ntyped %s", r.Frame, r.Raw, again)
	}
	return r.Frame
}

// until reads (and checks, see wire) frames until ok.
func until[F protocol.Frame](t *testing.T, c *client.Conn, ok func(F) bool) F {
	t.Helper()
	for {
		if f, is := wire(t, c).(F); is && ok(f) {
			return f
		}
	}
}

func anyOf[F protocol.Frame](F) bool { return true }

// turn reads until the ack of client id id and an entry that ok accepts
// (in either order: a turn's entries may come before its ack).
func turn(t *testing.T, c *client.Conn, id string, ok func(*protocol.EntryFrame) bool) (*protocol.Ack, *protocol.EntryFrame) {
	t.Helper()
	var ack *protocol.Ack
	var entry *protocol.EntryFrame
	for ack == nil || entry == nil {
		switch f := wire(t, c).(type) {
		case *protocol.Ack:
			if f.ID == id {
				ack = f
			}
		case *protocol.EntryFrame:
			if entry == nil && ok(f) {
				entry = f
			}
		}
	}
	return ack, entry
}

func botSays(text string) func(*protocol.EntryFrame) bool {
	return func(f *protocol.EntryFrame) bool { return f.Entry.From == "bot" && f.Entry.Text == text }
}

// TestVisitor talks to the bot, resends a message (answered once),
// reconnects and resumes after the last entry it has.
func TestVisitor(t *testing.T) {
	srv, url := startServer(t)
	ctx := context.Background()
	c, err := client.DialVisitor(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(ctx, protocol.Start{Playbook: "qualify", Locale: "en", Visitor: &protocol.Visitor{ID: "v1", Name: "Ana"}}); err != nil {
		t.Fatal(err)
	}
	w := until(t, c, anyOf[*protocol.Welcome])
	if w.Token == "" || w.Conversation == "" || c.Token() != w.Token || c.Conversation() != w.Conversation {
		t.Fatalf("welcome %+v; conn has token %q, conversation %q", w, c.Token(), c.Conversation())
	}
	hello := until(t, c, botSays("Hi! What brings you here?"))
	if len(hello.Entry.Buttons) != 2 || hello.Entry.Buttons[0].Value == "" {
		t.Fatalf("greeting buttons %+v", hello.Entry.Buttons)
	}
	if err := c.Click(ctx, "m1", hello.Entry.Buttons[0].Value, hello.Entry.Buttons[0].Label); err != nil {
		t.Fatal(err)
	}
	ack, q := turn(t, c, "m1", botSays("What's your work email?"))
	if ack.Entry == "" || ack.Duplicate {
		t.Fatalf("ack %+v", ack)
	}
	if c.LastEntry() != q.Entry.ID {
		t.Fatalf("LastEntry = %q, want %q", c.LastEntry(), q.Entry.ID)
	}
	// The same client id again: a duplicate ack, nothing runs twice.
	if err := c.Click(ctx, "m1", hello.Entry.Buttons[0].Value, hello.Entry.Buttons[0].Label); err != nil {
		t.Fatal(err)
	}
	if again := until(t, c, anyOf[*protocol.Ack]); !again.Duplicate || again.Entry != ack.Entry {
		t.Fatalf("resend ack %+v, want a duplicate of %+v", again, ack)
	}
	// A refused frame: an error with the message's id.
	if err := c.Say(ctx, "m2", "   "); err != nil {
		t.Fatal(err)
	}
	if e := until(t, c, anyOf[*protocol.Error]); e.Code != protocol.CodeInvalid || e.ID != "m2" {
		t.Fatalf("error %+v, want invalid for m2", e)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	until(t, c, anyOf[*protocol.Pong])
	entries, err := srv.App().Sessions().Transcript(ctx, w.Conversation, "", 0)
	if err != nil || len(entries) != 3 {
		t.Fatalf("transcript: %d entries (%v), want 3", len(entries), err)
	}

	// Reconnect: the resume replays nothing the conversation had, and the
	// conversation goes on.
	c2, err := c.Reconnect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if w2 := until(t, c2, anyOf[*protocol.Welcome]); w2.Conversation != w.Conversation {
		t.Fatalf("resumed %q, want %q", w2.Conversation, w.Conversation)
	}
	c2.Ping(ctx)
	for f := wire(t, c2); f.FrameType() != protocol.TypePong; f = wire(t, c2) {
		if e, ok := f.(*protocol.EntryFrame); ok {
			t.Fatalf("resume after %s replayed %+v", q.Entry.ID, e.Entry)
		}
	}
	c2.Say(ctx, "m3", "ana@acme.io")
	until(t, c2, botSays("How many employees?"))
	if _, err := c.Next(ctx); err == nil {
		t.Fatal("the first connection still reads after Reconnect")
	}
}

// TestAgent signs in, follows a handed-off chat on the live feed, takes
// it, replies (the visitor gets it) and resolves it (the visitor rates).
func TestAgent(t *testing.T) {
	srv, url := startServer(t)
	ctx := context.Background()
	if _, err := srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam", Teams: []string{"sales"}, Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SignIn(ctx, url, "sam@example.com", "wrong horse", client.Options{}); client.StatusOf(err) != 401 {
		t.Fatalf("a wrong password: %v, want HTTP 401", err)
	}
	sam, err := client.SignIn(ctx, url, "sam@example.com", "correct horse", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if sam.Agent.Name != "Sam" || sam.CSRF() == "" {
		t.Fatalf("signed in as %+v, csrf %q", sam.Agent, sam.CSRF())
	}
	feed, err := sam.Feed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	if err := sam.SetPresence(ctx, protocol.Online); err != nil {
		t.Fatal(err)
	}
	me, err := sam.Me(ctx)
	if err != nil || me.Presence != protocol.Online {
		t.Fatalf("me: %+v, %v", me, err)
	}

	v, err := client.DialVisitor(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	v.Start(ctx, protocol.Start{Playbook: "qualify"})
	until(t, v, botSays("Hi! What brings you here?"))
	for i, step := range []struct{ say, then string }{
		{"Talk to sales", "What's your work email?"}, {"ana@acme.io", "How many employees?"},
		{"201+", "Monthly budget in USD?"}, {"1500", ""},
	} {
		id := "v" + string(rune('1'+i))
		if err := v.Say(ctx, id, step.say); err != nil {
			t.Fatal(err)
		}
		if step.then != "" {
			turn(t, v, id, botSays(step.then))
		} else {
			turn(t, v, id, func(f *protocol.EntryFrame) bool { return f.Entry.Kind == "handoff" })
		}
	}
	conv := v.Conversation()

	n := until(t, feed, func(f *protocol.Notify) bool { return f.Kind == protocol.NotifyNewChat })
	if n.Conversation == nil || n.Conversation.ID != conv || n.Conversation.Team != "sales" {
		t.Fatalf("notify %+v", n)
	}
	if err := client.Follow(ctx, feed, conv, ""); err != nil {
		t.Fatal(err)
	}
	until(t, feed, func(f *protocol.AgentEntry) bool { return f.Conversation == conv && f.Entry.Kind == "handoff" })
	taken, err := sam.Assign(ctx, conv, "")
	if err != nil || taken.Assignee != sam.Agent.ID {
		t.Fatalf("assign: %+v, %v", taken, err)
	}
	if _, err := sam.Assign(ctx, "no-such-conversation", ""); client.StatusOf(err) != 404 {
		t.Fatalf("assign of nothing: %v, want 404", err)
	}
	until(t, v, func(f *protocol.EntryFrame) bool { return f.Entry.Kind == "joined" && f.Entry.Author == "Sam" })
	reply, err := sam.Reply(ctx, conv, "Hi Ana, Sam here", "r1")
	if err != nil || reply.ID == "" {
		t.Fatalf("reply: %+v, %v", reply, err)
	}
	got := until(t, v, func(f *protocol.EntryFrame) bool { return f.Entry.From == "agent" })
	if got.Entry.ID != reply.ID || got.Entry.Text != "Hi Ana, Sam here" {
		t.Fatalf("visitor got %+v, want %+v", got.Entry, reply)
	}
	until(t, feed, func(f *protocol.AgentEntry) bool { return f.Entry.ID == reply.ID })
	if _, err := sam.Resolve(ctx, conv); err != nil {
		t.Fatal(err)
	}
	until(t, v, func(f *protocol.EntryFrame) bool { return f.Entry.Kind == "resolved" })
	v.Send(ctx, &protocol.Rating{Score: 5, Comment: "quick"})
	if r := until(t, v, anyOf[*protocol.Rated]); r.Score != 5 {
		t.Fatalf("rated %+v", r)
	}
	tr, err := sam.Transcript(ctx, conv, reply.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range tr {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Contains(kinds, "resolved") || slices.Contains(kinds, "joined") {
		t.Fatalf("transcript after the reply: %v, want a resolved entry and no earlier ones", kinds)
	}
	// Every body of the API decodes into its type and encodes back to the
	// same JSON value.
	lead, err := sam.CreateRecord(ctx, conv, "lead", protocol.RecordRequest{Title: "Acme", Value: ptr(1500.0), Currency: "USD", ClientID: "l1"})
	if err != nil || lead.Record == nil || lead.Record.Kind != "lead" || lead.CRM == nil {
		t.Fatalf("lead: %+v, %v", lead, err)
	}
	sameJSON[protocol.Me](t, sam, "/api/me")
	sameJSON[[]protocol.AgentInfo](t, sam, "/api/agents")
	sameJSON[[]protocol.Conversation](t, sam, "/api/conversations?folder=closed")
	sameJSON[protocol.ConversationDetails](t, sam, "/api/conversations/"+conv)
	sameJSON[[]protocol.Entry](t, sam, "/api/conversations/"+conv+"/transcript")
	sameJSON[protocol.Panel](t, sam, "/api/conversations/"+conv+"/crm")
	sameJSON[[]protocol.Record](t, sam, "/api/leads")
	sameJSON[[]protocol.Record](t, sam, "/api/people")
	sameJSON[[]protocol.FeedItem](t, sam, "/api/people/"+lead.Record.Person+"/feed")
	sameJSON[protocol.RecordDetails](t, sam, "/api/people/"+lead.Record.Person)
	sameJSON[protocol.RecordDetails](t, sam, "/api/leads/"+lead.Record.ID)
	// The CRM API's reads through the client.
	leads, err := sam.Records(ctx, "leads", client.RecordQuery{Q: "Acme", Owner: "me", Limit: 10})
	if err != nil || len(leads) != 1 || leads[0].ID != lead.Record.ID {
		t.Fatalf("Sam's leads matching Acme: %+v, %v", leads, err)
	}
	person, err := sam.Record(ctx, "people", lead.Record.Person)
	if err != nil || person.Record == nil || person.Record.Email != "ana@acme.io" || len(person.Leads) != 1 || person.Tasks == nil || person.People != nil {
		t.Fatalf("the lead's person: %+v, %v", person, err)
	}
	if _, err := sam.Record(ctx, "deals", lead.Record.ID); client.StatusOf(err) != 404 {
		t.Fatalf("a lead read as a deal: %v, want 404", err)
	}
	if items, err := sam.RecordFeed(ctx, "people", lead.Record.Person, "records", 5); err != nil || len(items) == 0 || items[0].Record == nil {
		t.Fatalf("the person's records feed: %+v, %v", items, err)
	}
	if p, err := sam.UpdatePerson(ctx, lead.Record.Person, protocol.PersonUpdate{Name: ptr("Ana Lima")}); err != nil || p.Name != "Ana Lima" {
		t.Fatalf("renaming the person: %+v, %v", p, err)
	}
	if _, err := sam.UpdatePerson(ctx, lead.Record.Person, protocol.PersonUpdate{Phone: ptr("12ab")}); client.StatusOf(err) != 400 {
		t.Fatalf("a phone that is not one: %v, want 400", err)
	}
	sameJSON[[]protocol.Canned](t, sam, "/api/canned")

	if err := sam.SignOut(ctx); err != nil {
		t.Fatal(err)
	}
	// Signing out closes the feed with 4001.
	for {
		if _, err := feed.Next(ctx); err != nil {
			break
		}
	}
	if st := feed.CloseStatus(); st != 4001 {
		t.Fatalf("feed closed with %v, want 4001", st)
	}
}

func ptr[T any](v T) *T { return &v }

// sameJSON GETs path and checks that its body, decoded into T and encoded
// again, is the JSON value the server sent.
func sameJSON[T any](t *testing.T, in *client.Inbox, path string) {
	t.Helper()
	var raw json.RawMessage
	if err := in.Do(context.Background(), "GET", path, nil, &raw); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var typed T
	if err := json.Unmarshal(raw, &typed); err != nil {
		t.Fatalf("GET %s into %T: %v", path, typed, err)
	}
	again, _ := json.Marshal(typed)
	var a, b interface{}
	json.Unmarshal(raw, &a)
	json.Unmarshal(again, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("GET %s: the typed %T differs from the wire:\nsent  %s\ntyped %s", path, typed, raw, again)
	}
}
