package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// twoTeams is a sales chat (handed off, a lead made from it by Sam with the
// visitor's email) and the people around it: Sam and Kim of sales, Sue of
// support, an admin.
type twoTeams struct {
	ts                   *testServer
	v                    *client
	token, conv          string
	sam, kim, sue, admin *agentClient
	mia                  *agentClient // a marketer: sees statistics, not chats
	person               *crm.Record
}

func newTwoTeams(t *testing.T) *twoTeams {
	t.Helper()
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	w := &twoTeams{ts: ts}
	w.sam = signIn(t, ts, addAgent(t, ts, "Sam", "sales"))
	w.kim = signIn(t, ts, addAgent(t, ts, "Kim", "sales"))
	w.sue = signIn(t, ts, addAgent(t, ts, "Sue", "support"))
	adm, err := ts.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: "ada@example.com", Name: "Ada", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	w.admin = signIn(t, ts, adm)
	mia, err := ts.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: "mia@example.com", Name: "Mia", Role: handoff.RoleMarketer, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	w.mia = signIn(t, ts, mia)
	w.sam.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	w.v = dial(t, ts)
	w.token, w.conv = w.v.start("qualify")
	w.v.bot("Hi! What brings you here?")
	w.v.say("v1", "Talk to sales")
	w.v.bot("What's your work email?")
	w.v.say("v2", "ana@acme.io")
	w.v.bot("How many employees?")
	w.v.say("v3", "201+")
	w.v.bot("Monthly budget in USD?")
	w.v.say("v4", "1500")
	w.v.bot("Connecting you to sales...")
	w.v.entryOf("handoff", "system")
	w.sam.ok("POST", "/api/conversations/"+w.conv+"/assign", map[string]any{})
	w.v.entryOf("joined", "system")
	w.sam.ok("POST", "/api/conversations/"+w.conv+"/notes", map[string]any{"text": "SECRET-SALES-NOTE"})
	var out struct{ Record *crm.Record }
	json.Unmarshal(w.sam.ok("POST", "/api/conversations/"+w.conv+"/lead", map[string]any{"email": "ana@acme.io", "name": "Ana"}), &out)
	p, err := ts.srv.Service().CRM().PersonByEmail(context.Background(), "ana@acme.io")
	if err != nil {
		t.Fatal(err)
	}
	w.person = p
	return w
}

// supportChat starts a support conversation in the support team's queue,
// with visitor (nil: the sales chat's visitor, so the sales chat is its
// previous one).
func (w *twoTeams) supportChat(t *testing.T, visitor *handoff.Visitor) string {
	t.Helper()
	ctx := context.Background()
	in := w.ts.srv.App().Inbox()
	conv := handoff.Conversation{ID: "support-" + w.conv, Playbook: "qualify"}
	if visitor == nil {
		// The widget's visitor: linked to the sales chat as the widget's
		// "start a new conversation" does.
		conv.Previous = []string{w.conv}
	} else {
		conv.Visitor = *visitor
	}
	c, err := in.Start(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.Queue(ctx, c.ID, "support", "", ""); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// TestTranscriptIsDecidedByTheConversation: the person of a sales chat
// who also wrote to support lists both teams; support still may not read
// the sales chat's transcript, in any format.
func TestTranscriptIsDecidedByTheConversation(t *testing.T) {
	w := newTwoTeams(t)
	ctx := context.Background()
	// The same email typed into a support chat: the person lists both teams.
	if _, err := w.ts.srv.Service().CRM().LinkChat(ctx, crm.Chat{Conversation: w.supportChat(t, nil)}, "support", "ana@acme.io"); err != nil {
		t.Fatal(err)
	}
	p, _ := w.ts.srv.Service().CRM().Get(ctx, w.person.ID)
	if !slices.Contains(p.Teams, "support") || !slices.Contains(p.Teams, "sales") {
		t.Fatalf("person's teams = %v, want both", p.Teams)
	}
	for _, path := range []string{"/transcript", "/transcript?format=txt", "/transcript?format=json", ""} {
		code, body := w.sue.do("GET", "/api/conversations/"+w.conv+path, nil)
		if code != 403 || strings.Contains(string(body), "SECRET-SALES-NOTE") {
			t.Errorf("support GET %s: %d %.200s, want 403", path, code, body)
		}
		if code, body := w.kim.do("GET", "/api/conversations/"+w.conv+path, nil); code != 200 {
			t.Errorf("sales colleague GET %s: %d %.200s, want 200", path, code, body)
		}
	}
}

// TestPreviousListsOnlyWhatTheAgentMaySee: a support chat of a visitor who
// talked to sales before does not carry the sales chat (its metadata, its
// last private note) to support.
func TestPreviousListsOnlyWhatTheAgentMaySee(t *testing.T) {
	w := newTwoTeams(t)
	sup := w.supportChat(t, nil)
	var details struct {
		Previous []handoff.Conversation `json:"previous"`
	}
	body := w.sue.ok("GET", "/api/conversations/"+sup, nil)
	json.Unmarshal(body, &details)
	if len(details.Previous) != 0 || strings.Contains(string(body), "SECRET-SALES-NOTE") {
		t.Fatalf("support sees previous %+v in %.300s", details.Previous, body)
	}
	json.Unmarshal(w.admin.ok("GET", "/api/conversations/"+sup, nil), &details)
	if len(details.Previous) != 1 || details.Previous[0].ID != w.conv {
		t.Fatalf("admin's previous = %+v, want the sales chat", details.Previous)
	}
}

// TestLeadFromAChatDoesNotPullAnotherTeamsPerson: from her own chat, a
// support agent types the email of a sales person: refused, and the person
// keeps its teams.
func TestLeadFromAChatDoesNotPullAnotherTeamsPerson(t *testing.T) {
	w := newTwoTeams(t)
	ctx := context.Background()
	// Sue's chat is with someone else: a visitor without this email.
	sup := w.supportChat(t, &handoff.Visitor{ID: "bob", Email: "bob@other.io"})
	for _, kind := range []string{"lead", "deal"} {
		code, body := w.sue.do("POST", "/api/conversations/"+sup+"/"+kind, map[string]any{"email": "ANA@acme.io "})
		if code != 403 {
			t.Errorf("support makes a %s for sales' person: %d %.200s, want 403", kind, code, body)
		}
	}
	p, _ := w.ts.srv.Service().CRM().Get(ctx, w.person.ID)
	if slices.Contains(p.Teams, "support") {
		t.Fatalf("person's teams = %v: support was added", p.Teams)
	}
	// A new email is fine, and so is the chat's own visitor.
	w.sue.ok("POST", "/api/conversations/"+sup+"/lead", map[string]any{"email": "new@acme.io"})
	w.sue.ok("POST", "/api/conversations/"+sup+"/lead", map[string]any{"email": "bob@other.io"})
}

// TestDeletedStaysDeleted: a deleted message's text never reaches the
// visitor again, not even on a fresh resume from the start; deleting a
// private note tells the visitor nothing; only the author or an admin
// deletes.
func TestDeletedStaysDeleted(t *testing.T) {
	w := newTwoTeams(t)
	var msg, note, other map[string]any
	json.Unmarshal(w.sam.ok("POST", "/api/conversations/"+w.conv+"/messages", map[string]any{"text": "OOPS-WRONG-PRICE"}), &msg)
	json.Unmarshal(w.sam.ok("POST", "/api/conversations/"+w.conv+"/notes", map[string]any{"text": "NOTE-TO-DELETE"}), &note)
	json.Unmarshal(w.sam.ok("POST", "/api/conversations/"+w.conv+"/messages", map[string]any{"text": "Second message"}), &other)
	w.v.entryOf("message", "agent")

	// A colleague cannot delete Sam's message, nor another team; an admin can.
	del := func(ac *agentClient, id string) int {
		code, _ := ac.do("DELETE", "/api/conversations/"+w.conv+"/messages/"+id, nil)
		return code
	}
	if code := del(w.kim, msg["id"].(string)); code != 403 {
		t.Errorf("a colleague deletes Sam's message: %d, want 403", code)
	}
	if code := del(w.sue, msg["id"].(string)); code != 403 {
		t.Errorf("another team deletes Sam's message: %d, want 403", code)
	}
	if code := del(w.sam, msg["id"].(string)); code != 200 {
		t.Fatalf("the author deletes their message: %d", code)
	}
	if code := del(w.sam, note["id"].(string)); code != 200 {
		t.Fatalf("the author deletes their note: %d", code)
	}
	if code := del(w.admin, other["id"].(string)); code != 200 {
		t.Fatalf("an admin deletes a message: %d", code)
	}
	// The visitor sees the two messages deleted, and nothing of the note.
	for _, target := range []string{msg["id"].(string), other["id"].(string)} {
		if d := w.v.entryOf("deleted", "system"); d["data"].(map[string]any)["target"] != target {
			t.Fatalf("visitor got deleted %v, want target %s", d, target)
		}
	}
	w.sam.ok("POST", "/api/conversations/"+w.conv+"/messages", map[string]any{"text": "MARKER"})
	for {
		e := w.v.next("entry")["entry"].(map[string]any)
		if e["kind"] == "deleted" || strings.Contains(fmt.Sprint(e), "NOTE-TO-DELETE") {
			t.Fatalf("visitor got %v after deleting a note", e)
		}
		if e["text"] == "MARKER" {
			break
		}
	}

	// A fresh tab resumes from the start: no deleted text, no note.
	fresh := dial(t, w.ts)
	fresh.send(map[string]any{"type": "resume", "token": w.token, "after": ""})
	fresh.next("welcome")
	for {
		e := fresh.next("entry")["entry"].(map[string]any)
		if s := fmt.Sprint(e); strings.Contains(s, "OOPS-WRONG-PRICE") || strings.Contains(s, "Second message") || strings.Contains(s, "NOTE-TO-DELETE") {
			t.Fatalf("resume from the start replays %v", e)
		}
		if e["kind"] == "deleted" && e["data"].(map[string]any)["target"] == note["id"] {
			t.Fatalf("resume from the start names the deleted note: %v", e)
		}
		if e["text"] == "MARKER" {
			break
		}
	}
}

// frameUntil reads c's frames (queued ones first) until one satisfies
// done, failing on any that satisfies bad. It fails after 30 s.
func frameUntil(t *testing.T, c *client, bad, done func(map[string]any) bool) {
	t.Helper()
	queued := c.queue
	c.queue = nil
	timeout := time.After(30 * time.Second)
	for {
		var f map[string]any
		if len(queued) > 0 {
			f, queued = queued[0], queued[1:]
		} else {
			select {
			case got, ok := <-c.frames:
				if !ok {
					t.Fatal("the feed closed")
				}
				f = got
			case <-timeout:
				t.Fatal("no awaited frame within 30 s")
			}
		}
		if bad(f) {
			t.Fatalf("got %v", f)
		}
		if done(f) {
			c.queue = append(c.queue, queued...)
			return
		}
	}
}

// TestLiveFeedIsRechecked: after a transfer to another team the former
// agent's open /ws/agent stops getting the chat's entries; after logout
// the socket closes and the agent is offline.
func TestLiveFeedIsRechecked(t *testing.T) {
	w := newTwoTeams(t)
	feed, closed := longFeed(t, w.sam)
	feed.send(map[string]any{"type": "follow", "conversation": w.conv})
	feed.entryOf("note", "agent") // the replay reached the note
	support := w.sue.feed()

	w.sam.ok("POST", "/api/conversations/"+w.conv+"/transfer", map[string]any{"team": "support"})
	support.send(map[string]any{"type": "follow", "conversation": w.conv})
	w.v.send(map[string]any{"type": "message", "id": "after-transfer", "text": "AFTER-TRANSFER"})
	for e := support.entryOf("message", "visitor"); e["text"] != "AFTER-TRANSFER"; e = support.entryOf("message", "visitor") {
	}
	// A new sales chat: its new_chat notice reaches Sam after the message
	// above was published; the message must not come before it.
	v2 := dial(t, w.ts)
	conv2 := toHandoff(t, v2)
	sawRevoked := false
	frameUntil(t, feed, func(f map[string]any) bool {
		if f["type"] == "revoked" && f["conversation"] == w.conv {
			sawRevoked = true
		}
		e, _ := f["entry"].(map[string]any)
		return f["type"] == "entry" && e["text"] == "AFTER-TRANSFER"
	}, func(f map[string]any) bool {
		c, _ := f["conversation"].(map[string]any)
		return f["type"] == "notify" && c != nil && c["id"] == conv2
	})
	if !sawRevoked {
		t.Error("no revoked frame for the transferred chat")
	}

	// Logout: the socket closes, and Sam is offline.
	presence := func() string {
		var agents []map[string]any
		json.Unmarshal(w.admin.ok("GET", "/api/agents", nil), &agents)
		for _, a := range agents {
			if a["id"] == w.sam.agent.ID {
				return fmt.Sprint(a["presence"])
			}
		}
		return ""
	}
	feed.send(map[string]any{"type": "heartbeat"})
	feed.send(map[string]any{"type": "ping"})
	feed.next("pong") // the heartbeat was handled
	if p := presence(); p != "online" {
		t.Fatalf("Sam's presence before logout = %q", p)
	}
	if code, _ := w.sam.do("POST", "/api/auth/logout", nil); code != 204 {
		t.Fatalf("logout: %d", code)
	}
	select {
	case err := <-closed:
		if websocket.CloseStatus(err) != 4001 {
			t.Errorf("the feed closed with %v, want status 4001 (signed out)", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the agent's /ws/agent is still open 60 s after logout")
	}
	if p := presence(); p == "online" {
		t.Fatalf("Sam's presence after logout = %q", p)
	}
}

// longFeed opens ac's /ws/agent for up to 2 minutes; closed gets the
// error that ended it.
func longFeed(t *testing.T, ac *agentClient) (*client, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	conn, err := pbclient.DialAgent(ctx, ac.ts.url, pbclient.Options{Header: ac.cookies()})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	c := pump(t, ctx, conn, closed)
	c.next("hello")
	return c, closed
}

// TestCRMScreensShowOnlyWhatThePolicyAllows: the inbox's CRM screens (My
// tasks, the lead and deal lists with their filters, a person's page and
// feed) show support nothing of sales' leads, tasks and person, and show
// a colleague of sales all of it; only the task's team marks it done.
func TestCRMScreensShowOnlyWhatThePolicyAllows(t *testing.T) {
	w := newTwoTeams(t)
	ctx := context.Background()
	st := w.ts.srv.Service().CRM()
	due := time.Now().Add(-time.Hour).UTC() // overdue
	task, err := st.Create(ctx, w.ts.srv.Service().CRMSource(ctx, w.conv, nil, nil),
		engine.Record{Kind: "task", Key: "crm-screens-task", Fields: map[string]any{"subject": "Call back ana@acme.io", "due": due, "assignee": "round_robin:sales", "type": "call"}})
	if err != nil {
		t.Fatal(err)
	}
	if task.Record.Playbook != "qualify" {
		t.Fatalf("the task's source playbook = %q, want qualify", task.Record.Playbook)
	}
	tomorrow := url.QueryEscape(time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339))
	lists := []string{
		"/api/tasks?status=open&due_before=" + tomorrow,
		"/api/tasks?owner=" + task.Record.Owner,
		"/api/leads?playbook=qualify",
		"/api/leads?owner=me",
		"/api/deals",
		"/api/people?q=ana",
		"/api/people?q=ana@acme.io",
	}
	for _, path := range lists {
		body := w.sue.ok("GET", path, nil)
		for _, id := range []string{task.Record.ID, w.person.ID, "led_"} {
			if strings.Contains(string(body), id) {
				t.Errorf("support GET %s names %s: %.300s", path, id, body)
			}
		}
	}
	var mine []map[string]any
	json.Unmarshal(w.kim.ok("GET", "/api/tasks?status=open&due_before="+tomorrow, nil), &mine)
	if len(mine) != 1 || mine[0]["id"] != task.Record.ID || mine[0]["playbook"] != "qualify" {
		t.Fatalf("sales' open tasks due by tomorrow: %v", mine)
	}
	var leads []map[string]any
	json.Unmarshal(w.kim.ok("GET", "/api/leads?playbook=qualify", nil), &leads)
	if len(leads) != 1 {
		t.Fatalf("sales' leads of the qualify playbook: %v", leads)
	}
	if code, b := w.kim.do("GET", "/api/tasks?status=maybe", nil); code != 400 {
		t.Errorf("status=maybe: %d %s, want 400", code, b)
	}
	if code, b := w.kim.do("GET", "/api/tasks?due_before=tomorrow", nil); code != 400 {
		t.Errorf("due_before=tomorrow: %d %s, want 400", code, b)
	}

	// The person's page and feed: support may not open them.
	for _, path := range []string{"/api/people/" + w.person.ID, "/api/people/" + w.person.ID + "/feed?type=chats"} {
		if code, b := w.sue.do("GET", path, nil); code != 403 {
			t.Errorf("support GET %s: %d %.200s, want 403", path, code, b)
		}
	}
	var feed []map[string]any
	json.Unmarshal(w.kim.ok("GET", "/api/people/"+w.person.ID+"/feed?type=chats", nil), &feed)
	if len(feed) != 1 || feed[0]["type"] != "chat" {
		t.Fatalf("sales sees the feed %v, want the one chat", feed)
	}
	if chat, _ := feed[0]["chat"].(map[string]any); chat["conversation"] != w.conv || chat["transcript"] != "/api/conversations/"+w.conv+"/transcript" {
		t.Errorf("the chat in the feed: %v", chat)
	}

	// Done: support is refused and nothing changes; sales marks it.
	if code, b := w.sue.do("POST", "/api/tasks/"+task.Record.ID+"/done", map[string]any{}); code != 403 {
		t.Fatalf("support marks sales' task done: %d %s", code, b)
	}
	if r, _ := st.Get(ctx, task.Record.ID); r.DoneAt != nil {
		t.Fatal("a refused request marked the task done")
	}
	var done map[string]any
	json.Unmarshal(w.kim.ok("POST", "/api/tasks/"+task.Record.ID+"/done", map[string]any{}), &done)
	if done["done_at"] == nil {
		t.Fatalf("marked done: %v", done)
	}
	if b := w.kim.ok("GET", "/api/tasks?status=open&due_before="+tomorrow, nil); strings.Contains(string(b), task.Record.ID) {
		t.Errorf("a done task is still in My tasks: %s", b)
	}
	var open map[string]any
	json.Unmarshal(w.kim.ok("POST", "/api/tasks/"+task.Record.ID+"/done", map[string]any{"done": false}), &open)
	if open["id"] != task.Record.ID || open["done_at"] != nil {
		t.Fatalf("opened again: %v", open)
	}
}
