package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
)

// fakeSMTP is a minimal SMTP server on loopback that keeps what it gets.
type fakeSMTP struct {
	addr string
	mu   sync.Mutex
	mail []string
}

func startSMTP(t *testing.T) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeSMTP{addr: ln.Addr().String()}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(conn)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	say := func(s string) { conn.Write([]byte(s + "\r\n")) }
	say("220 fake ESMTP")
	var data strings.Builder
	inData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if inData {
			if line == ".\r\n" {
				inData = false
				f.mu.Lock()
				f.mail = append(f.mail, data.String())
				f.mu.Unlock()
				say("250 queued")
				continue
			}
			data.WriteString(line)
			continue
		}
		switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
		case "EHLO", "HELO":
			say("250 fake")
		case "MAIL", "RCPT", "RSET", "NOOP":
			say("250 ok")
		case "DATA":
			inData = true
			data.Reset()
			say("354 go on")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("502 no")
		}
	}
}

func (f *fakeSMTP) messages() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.mail...)
}

func TestAgentTools(t *testing.T) {
	rds := redistest.New(t)
	smtp := startSMTP(t)
	mailer, err := server.NewSMTPMailer("smtp://" + smtp.addr + "?from=chat@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) { c.Mail = mailer })
	sam := addAgent(t, ts, "Sam", "sales")
	addAgent(t, ts, "Sue", "support")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	feed := agent.feed()
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	feed.send(map[string]any{"type": "follow", "conversation": conv, "after": ""})
	feed.entryOf("joined", "system") // the replay is done: the feed follows the chat

	// Typing both ways.
	agent.ok("POST", "/api/conversations/"+conv+"/typing", map[string]any{"on": true})
	if f := v.next("typing"); f["from"] != "agent" || f["on"] != true {
		t.Fatalf("visitor typing frame = %v", f)
	}
	v.entryOf("joined", "system")
	v.send(map[string]any{"type": "typing", "on": true})
	if f := feed.next("typing"); f["from"] != "visitor" || f["conversation"] != conv {
		t.Fatalf("agent typing frame = %v", f)
	}

	// Labels and canned responses.
	var c handoff.Conversation
	json.Unmarshal(agent.ok("POST", "/api/conversations/"+conv+"/labels", map[string]any{"add": []string{"VIP", "pricing"}}), &c)
	if strings.Join(c.Labels, ",") != "pricing,vip" {
		t.Fatalf("labels = %v", c.Labels)
	}
	agent.ok("POST", "/api/canned", map[string]any{"short": "/hello", "text": "Hi! How can I help?"})
	var canned []handoff.Canned
	json.Unmarshal(agent.ok("GET", "/api/canned", nil), &canned)
	if len(canned) != 1 || canned[0].Short != "hello" {
		t.Fatalf("canned = %v", canned)
	}

	// Delete a message: the visitor sees it marked deleted.
	var e map[string]any
	json.Unmarshal(agent.ok("POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "oops, wrong chat"}), &e)
	v.entryOf("message", "agent")
	agent.ok("DELETE", "/api/conversations/"+conv+"/messages/"+e["id"].(string), nil)
	if d := v.entryOf("deleted", "system"); d["data"].(map[string]any)["target"] != e["id"] {
		t.Fatalf("deleted entry = %v", d)
	}

	// The agent emails the transcript (the visitor's copy: no notes), the
	// visitor asks for theirs after resolve (without notes).
	agent.ok("POST", "/api/conversations/"+conv+"/notes", map[string]any{"text": "internal: discount approved"})
	agent.ok("POST", "/api/conversations/"+conv+"/transcript/email", map[string]any{"to": "boss@example.com"})
	agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
	v.entryOf("resolved", "system")
	v.send(map[string]any{"type": "transcript", "email": "ana@acme.io"})
	v.next("sent")
	mails := smtp.messages()
	if len(mails) != 2 {
		t.Fatalf("%d emails sent, want 2", len(mails))
	}
	if !strings.Contains(mails[0], "To: boss@example.com") || strings.Contains(mails[0], "internal: discount approved") || !strings.Contains(mails[0], "(message deleted)") {
		t.Errorf("agent's email:\n%s", mails[0])
	}
	if !strings.Contains(mails[1], "To: ana@acme.io") || strings.Contains(mails[1], "discount approved") || !strings.Contains(mails[1], "(message deleted)") {
		t.Errorf("visitor's email (no notes, deleted message hidden):\n%s", mails[1])
	}
}

func TestTransferToAnotherTeam(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	sam := addAgent(t, ts, "Sam", "sales")
	sue := addAgent(t, ts, "Sue", "support")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	support := signIn(t, ts, sue)
	support.ok("PUT", "/api/me/presence", map[string]any{"status": "online"}) // new-chat notices are for agents online
	feed := support.feed()
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	agent.ok("POST", "/api/conversations/"+conv+"/transfer", map[string]any{"team": "support"})
	for {
		n := feed.next("notify")
		if n["kind"] == "new_chat" && n["conversation"].(map[string]any)["id"] == conv {
			if n["title"] != "Chat transferred to Support" {
				t.Errorf("the transfer's notice is titled %q", n["title"])
			}
			break
		}
	}
	var list []handoff.Conversation
	json.Unmarshal(support.ok("GET", "/api/conversations?folder=unassigned", nil), &list)
	if len(list) != 1 || list[0].Team != "support" {
		t.Fatalf("support's queue = %+v", list)
	}
	if code, _ := agent.do("GET", "/api/conversations/"+conv, nil); code != 403 {
		t.Fatalf("sales still sees the transferred chat: %d", code)
	}
	_ = context.Background()
}

// Transfer to a team nobody is in is refused with a reason, and the chat
// stays where it was (issue 11, item 10: it answered 200 and the chat
// vanished for everyone but admins).
func TestTransferToUnknownTeamIsRefused(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	sam := addAgent(t, ts, "Sam", "sales")
	addAgent(t, ts, "Sue", "support")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	for _, team := range []string{"suport", "Support", "", "../sales"} {
		code, body := agent.do("POST", "/api/conversations/"+conv+"/transfer", map[string]any{"team": team})
		if code != 400 || !strings.Contains(string(body), "no team") {
			t.Errorf("transfer to %q: %d %s, want 400 naming the problem", team, code, body)
		}
	}
	var got struct{ Conversation handoff.Conversation }
	json.Unmarshal(agent.ok("GET", "/api/conversations/"+conv, nil), &got)
	if got.Conversation.Team != "sales" || got.Conversation.Assignee != sam.ID || got.Conversation.Status != handoff.StatusOpen {
		t.Fatalf("after refused transfers: %+v", got.Conversation)
	}
	// A team with agents still works.
	var moved handoff.Conversation
	json.Unmarshal(agent.ok("POST", "/api/conversations/"+conv+"/transfer", map[string]any{"team": "support"}), &moved)
	if moved.Team != "support" {
		t.Fatalf("transfer to support: %+v", moved)
	}
}

// Canned responses belong to a team or to their author; shared ones (the
// old global list, migrated) are read by all and changed by admins. They
// are changed and deleted by id: 404 when absent or not the agent's to
// see, 403 when seen but not theirs to change (issue 11, item 8: support
// overwrote and deleted sales' canned responses, and DELETE
// /api/canned/Sales%20Pitch answered 204 and deleted nothing).
func TestCannedResponsesBelongToTeamsAndAuthors(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	ctx := context.Background()
	// One canned response saved before they had owners.
	if err := rds.Client.HSet(ctx, rds.Prefix+"canned", "hello", "Hi! How can I help?").Err(); err != nil {
		t.Fatal(err)
	}
	sam := signIn(t, ts, addAgent(t, ts, "Sam", "sales"))
	kim := signIn(t, ts, addAgent(t, ts, "Kim", "sales"))
	sue := signIn(t, ts, addAgent(t, ts, "Sue", "support"))
	bossAgent, err := ts.srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: "boss@example.com", Name: "Boss", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	boss := signIn(t, ts, bossAgent)

	type canned struct {
		ID, Short, Text, Scope, Team, Owner string
		Editable                            bool
	}
	list := func(ac *agentClient) map[string]canned {
		t.Helper()
		var l []canned
		json.Unmarshal(ac.ok("GET", "/api/canned", nil), &l)
		out := map[string]canned{}
		for _, c := range l {
			out[c.Scope+":"+c.Short] = c
		}
		return out
	}
	create := func(ac *agentClient, body map[string]any) canned {
		t.Helper()
		code, b := ac.do("POST", "/api/canned", body)
		if code != 200 {
			t.Fatalf("create %v: %d %s", body, code, b)
		}
		var c canned
		json.Unmarshal(b, &c)
		return c
	}
	pitch := create(sam, map[string]any{"short": "Sales Pitch", "text": "Our plans start at 49 USD."})
	if pitch.ID == "" || pitch.Short != "sales-pitch" || pitch.Scope != "team" || pitch.Team != "sales" {
		t.Fatalf("Sam's canned response: %+v", pitch)
	}
	mine := create(sam, map[string]any{"short": "sig", "text": "Sam, Acme sales", "scope": "personal"})
	suppTeam := create(sue, map[string]any{"short": "reset", "text": "Reset it at /account."})

	// Who sees what.
	for _, tc := range []struct {
		who        string
		ac         *agentClient
		want, edit []string
	}{
		{"Sam", sam, []string{"shared:hello", "team:sales-pitch", "personal:sig"}, []string{"team:sales-pitch", "personal:sig"}},
		{"Kim", kim, []string{"shared:hello", "team:sales-pitch"}, []string{"team:sales-pitch"}},
		{"Sue", sue, []string{"shared:hello", "team:reset"}, []string{"team:reset"}},
		{"Boss", boss, []string{"shared:hello", "team:sales-pitch", "team:reset"}, []string{"shared:hello", "team:sales-pitch", "team:reset"}},
	} {
		got := list(tc.ac)
		if len(got) != len(tc.want) {
			t.Errorf("%s sees %v, want %v", tc.who, got, tc.want)
		}
		for _, k := range tc.want {
			if _, ok := got[k]; !ok {
				t.Errorf("%s does not see %s (sees %v)", tc.who, k, got)
			}
		}
		for k, c := range got {
			if c.Editable != slices.Contains(tc.edit, k) {
				t.Errorf("%s: %s editable = %v", tc.who, k, c.Editable)
			}
		}
	}
	hello := list(sue)["shared:hello"]

	// Support cannot touch sales' ones, nor learn they exist.
	for _, path := range []string{"/api/canned/" + pitch.ID, "/api/canned/" + mine.ID, "/api/canned/Sales%20Pitch", "/api/canned/sales-pitch", "/api/canned/nope"} {
		if code, b := sue.do("DELETE", path, nil); code != 404 {
			t.Errorf("Sue DELETE %s: %d %s, want 404", path, code, b)
		}
		if code, b := sue.do("PUT", path, map[string]any{"text": "Call support instead."}); code != 404 {
			t.Errorf("Sue PUT %s: %d %s, want 404", path, code, b)
		}
	}
	// Seen but not theirs: 403 with the reason.
	if code, b := sue.do("DELETE", "/api/canned/"+hello.ID, nil); code != 403 || !strings.Contains(string(b), "only admins") {
		t.Errorf("Sue deleting the shared one: %d %s", code, b)
	}
	if code, _ := sue.do("POST", "/api/canned", map[string]any{"short": "x", "text": "y", "scope": "team", "team": "sales"}); code != 403 {
		t.Errorf("Sue saving one for sales: %d", code)
	}
	if code, _ := sue.do("POST", "/api/canned", map[string]any{"short": "x", "text": "y", "scope": "shared"}); code != 403 {
		t.Errorf("Sue saving a shared one: %d", code)
	}
	// Bad input and duplicates.
	for _, body := range []map[string]any{{"short": "", "text": "y"}, {"short": "a b/c", "text": "y"}, {"short": "ok", "text": " "}, {"short": "ok", "text": "y", "scope": "global"}} {
		if code, _ := sam.do("POST", "/api/canned", body); code != 400 {
			t.Errorf("create %v: %d, want 400", body, code)
		}
	}
	if code, b := kim.do("POST", "/api/canned", map[string]any{"short": "/sales-pitch", "text": "again"}); code != 409 {
		t.Errorf("a second /sales-pitch for sales: %d %s, want 409", code, b)
	}
	create(sue, map[string]any{"short": "sales-pitch", "text": "support's own"}) // another team may use the name

	// Kim, of sales, edits the team's one; the text changes for Sam.
	kim.ok("PUT", "/api/canned/"+pitch.ID, map[string]any{"text": "Plans from 59 USD."})
	if got := list(sam)["team:sales-pitch"]; got.Text != "Plans from 59 USD." || got.ID != pitch.ID {
		t.Errorf("after Kim's edit Sam sees %+v", got)
	}
	if code, _ := kim.do("DELETE", "/api/canned/"+mine.ID, nil); code != 404 {
		t.Errorf("Kim deleting Sam's personal one: %d", code)
	}
	// Deleting by id deletes; twice is 404.
	boss.ok("DELETE", "/api/canned/"+pitch.ID, nil)
	if _, ok := list(sam)["team:sales-pitch"]; ok {
		t.Error("the deleted canned response is still listed")
	}
	if code, _ := boss.do("DELETE", "/api/canned/"+pitch.ID, nil); code != 404 {
		t.Errorf("deleting it again: %d, want 404", code)
	}
	sam.ok("DELETE", "/api/canned/"+mine.ID, nil)
	if got := list(sue); got["team:reset"].ID != suppTeam.ID || got["shared:hello"].Text != "Hi! How can I help?" {
		t.Errorf("support's list after sales' deletes: %v", got)
	}
}
