package server_test

import (
	"encoding/json"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
)

// Transcripts by mail (issue 11, items 1, 6 and 19), through a fake SMTP
// server on loopback that receives the real mail.

// smtpServer starts a server whose mail goes to a fake SMTP server.
func smtpServer(t *testing.T, rds *redistest.Server, mod ...func(*servertest.Config)) (*testServer, *fakeSMTP) {
	t.Helper()
	smtp := startSMTP(t)
	mailer, err := server.NewSMTPMailer("smtp://" + smtp.addr + "?from=chat@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, rds, "../playbooks/bench", append([]func(*servertest.Config){func(c *servertest.Config) { c.Mail = mailer }}, mod...)...)
	return ts, smtp
}

// mailTo returns the mails sent to address.
func mailTo(smtp *fakeSMTP, address string) []string {
	var out []string
	for _, m := range smtp.messages() {
		if strings.Contains(m, "To: "+address+"\r\n") {
			out = append(out, m)
		}
	}
	return out
}

// Item 1: the transcript the inbox mails (to the visitor, or to anyone the
// agent types) never holds private notes or deleted text; the internal copy
// with notes is its own action and only reaches agents who may read the
// conversation.
func TestEmailedTranscriptNeverHoldsNotes(t *testing.T) {
	rds := redistest.New(t)
	ts, smtp := smtpServer(t, rds)
	sam := addAgent(t, ts, "Sam", "sales")
	addAgent(t, ts, "Sid", "sales")
	addAgent(t, ts, "Sue", "support")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	path := "/api/conversations/" + conv

	var m, note map[string]any
	json.Unmarshal(agent.ok("POST", path+"/messages", map[string]any{"text": "draft: 40% off for you"}), &m)
	v.entryOf("message", "agent")
	agent.ok("DELETE", path+"/messages/"+m["id"].(string), nil)
	agent.ok("POST", path+"/messages", map[string]any{"text": "Happy to help with pricing."})
	agent.ok("POST", path+"/notes", map[string]any{"text": "internal: discount approved"})
	json.Unmarshal(agent.ok("POST", path+"/notes", map[string]any{"text": "internal: margin is thin here"}), &note)
	agent.ok("DELETE", path+"/messages/"+note["id"].(string), nil)

	// The inbox's "Email transcript…" pre-fills the visitor's address.
	agent.ok("POST", path+"/transcript/email", map[string]any{"to": "ana@acme.io"})
	got := mailTo(smtp, "ana@acme.io")
	if len(got) != 1 {
		t.Fatalf("%d mails to the visitor, want 1: %q", len(got), smtp.messages())
	}
	for _, secret := range []string{"discount approved", "margin is thin", "40% off", "private note"} {
		if strings.Contains(got[0], secret) {
			t.Errorf("the visitor's mail holds %q:\n%s", secret, got[0])
		}
	}
	for _, want := range []string{"Talk to sales", "Happy to help with pricing.", "(message deleted)"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("the visitor's mail lacks %q:\n%s", want, got[0])
		}
	}

	// The internal copy: to the signed-in agent by default, with the note,
	// never with deleted text.
	agent.ok("POST", path+"/transcript/email", map[string]any{"internal": true})
	got = mailTo(smtp, "sam@example.com")
	if len(got) != 1 || !strings.Contains(got[0], "internal: discount approved") {
		t.Fatalf("the internal copy to Sam: %q", got)
	}
	for _, secret := range []string{"margin is thin", "40% off"} {
		if strings.Contains(got[0], secret) {
			t.Errorf("the internal copy holds deleted text %q:\n%s", secret, got[0])
		}
	}
	// To a teammate: yes. To an outside address, or an agent of another
	// team: refused, nothing sent.
	agent.ok("POST", path+"/transcript/email", map[string]any{"internal": true, "to": "Sid@Example.com"})
	if got := mailTo(smtp, "sid@example.com"); len(got) != 1 || !strings.Contains(got[0], "discount approved") {
		t.Fatalf("the internal copy to Sid: %q", got)
	}
	before := len(smtp.messages())
	for _, to := range []string{"boss@elsewhere.example", "Sue@example.com"} {
		if code, body := agent.do("POST", path+"/transcript/email", map[string]any{"internal": true, "to": to}); code != 403 {
			t.Errorf("internal copy to %s: %d %s, want 403", to, code, body)
		}
	}
	for _, to := range []string{"", "a@b.example, c@d.example", "no address"} {
		if code, body := agent.do("POST", path+"/transcript/email", map[string]any{"to": to}); code != 400 {
			t.Errorf("visitor copy to %q: %d %s, want 400", to, code, body)
		}
	}
	if n := len(smtp.messages()); n != before {
		t.Errorf("%d mails sent by refused requests", n-before)
	}
}

// errorFrame reads the next error frame and checks it is a stable code
// with text for people, never an internal cause.
func errorFrame(t *testing.T, v *client, code string) {
	t.Helper()
	f := v.next("error")
	msg, _ := f["message"].(string)
	if f["code"] != code {
		t.Fatalf("error %v, want code %s", f, code)
	}
	for _, internal := range []string{"code=", "502", "501", "dial", "refused", "smtp", "redis"} {
		if strings.Contains(strings.ToLower(msg), internal) {
			t.Errorf("the visitor sees an internal error: %q", msg)
		}
	}
}

// Item 6: the visitor's transcript frame is no mail relay: only once the
// conversation is over, to one address (the one the bot collected), at
// most 3 times.
func TestVisitorTranscriptFrameIsNoRelay(t *testing.T) {
	rds := redistest.New(t)
	ts, smtp := smtpServer(t, rds)
	agent := signIn(t, ts, addAgent(t, ts, "Sam", "sales"))
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	v := dial(t, ts)
	conv := toHandoff(t, v) // the bot collected ana@acme.io
	v.bot("Connecting you to sales...")

	// While the chat goes on: refused.
	v.send(map[string]any{"type": "transcript", "email": "ana@acme.io"})
	errorFrame(t, v, "not_ended")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	v.send(map[string]any{"type": "transcript", "email": "ana@acme.io"})
	errorFrame(t, v, "not_ended")

	agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
	v.entryOf("resolved", "system")
	// Another address than the visitor's: refused.
	v.send(map[string]any{"type": "transcript", "email": "victim@elsewhere.example"})
	errorFrame(t, v, "wrong_address")
	v.send(map[string]any{"type": "transcript", "email": "ana@acme.io\r\nBcc: victim@elsewhere.example"})
	errorFrame(t, v, "invalid")
	// The visitor's own address: 3 times, then no more.
	for i, to := range []string{"ana@acme.io", "Ana@Acme.io", "<ana@acme.io>"} {
		v.send(map[string]any{"type": "transcript", "email": to, "id": "t" + string(rune('1'+i))})
		if f := v.next("sent"); f["id"] != "t"+string(rune('1'+i)) {
			t.Fatalf("sent frame %v", f)
		}
	}
	v.send(map[string]any{"type": "transcript", "email": "ana@acme.io"})
	errorFrame(t, v, "limit_reached")

	mails := smtp.messages()
	if len(mails) != 3 || len(mailTo(smtp, "ana@acme.io")) != 3 {
		t.Fatalf("%d mails (%d to ana@acme.io), want 3 to the visitor:\n%q", len(mails), len(mailTo(smtp, "ana@acme.io")), mails)
	}
}

// Item 6: a visitor with no address known to the conversation is held to
// the first one used; a mail server that fails shows a stable code, not
// its error, and does not count.
func TestVisitorTranscriptFirstAddressAndMailFailure(t *testing.T) {
	rds := redistest.New(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there: every send fails
	mailer, err := server.NewSMTPMailer("smtp://" + dead + "?from=chat@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) { c.Mail = mailer })
	v := dial(t, ts)
	v.start("qualify")
	v.bot("Hi! What brings you here?")
	v.send(map[string]any{"type": "button", "id": "b1", "value": "Just browsing", "label": "Just browsing"})
	v.bot("Enjoy! Ping us anytime.") // the bot ended the chat: over, no address known
	for range 4 {                    // more than the 3 allowed: failures give the try back
		v.send(map[string]any{"type": "transcript", "email": "first@acme.io"})
		errorFrame(t, v, "mail_failed")
	}
	v.send(map[string]any{"type": "transcript", "email": "second@acme.io"})
	errorFrame(t, v, "wrong_address")
}

// Item 19: the server says in its welcome frame (and the inbox's /api/me)
// whether mail works; without it the transcript frame gets a code the
// widget does not retry.
func TestMailOfferedOnlyWhenConfigured(t *testing.T) {
	rds := redistest.New(t)
	without := startServer(t, rds, "../playbooks/bench")
	with, _ := smtpServer(t, rds)
	for _, c := range []struct {
		ts    *testServer
		agent string
		mail  bool
	}{{without, "Amy", false}, {with, "Bob", true}} {
		v := dial(t, c.ts)
		v.send(map[string]any{"type": "start", "playbook": "qualify", "page": "/", "locale": "en-US"})
		if w := v.next("welcome"); w["mail"] != c.mail {
			t.Errorf("welcome frame %v: mail should be %v", w, c.mail)
		}
		var me map[string]any
		json.Unmarshal(signIn(t, c.ts, addAgent(t, c.ts, c.agent, "sales")).ok("GET", "/api/me", nil), &me)
		if me["mail"] != c.mail {
			t.Errorf("/api/me %v: mail should be %v", me, c.mail)
		}
	}
	v := dial(t, without)
	v.start("qualify")
	v.send(map[string]any{"type": "transcript", "email": "ana@acme.io"})
	errorFrame(t, v, "mail_unavailable")
}
