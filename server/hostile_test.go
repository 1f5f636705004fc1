package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestHostileFrames sends frames built to break things; each gets a clear
// error or is cleaned, the connection keeps working, and other visitors
// are unaffected.
func TestHostileFrames(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	bystander := dial(t, ts)
	bystander.start("qualify")
	bystander.bot("Hi! What brings you here?")

	c := dial(t, ts)
	_, conv := c.start("qualify")
	c.bot("Hi! What brings you here?")
	deep := `{"type":"message","id":"d","text":"x","visitor":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	c.conn.SendRaw(c.ctx, []byte(deep))
	if f := c.next("error"); f["code"] != "bad_json" {
		t.Fatalf("deeply nested JSON: %v", f)
	}
	c.conn.SendBinary(c.ctx, []byte{0xff, 0x00, 0x01})
	if f := c.next("error"); f["code"] != "bad_json" {
		t.Fatalf("binary frame: %v", f)
	}
	// Invalid UTF-8 and control characters are cleaned, markup is kept as text.
	c.conn.SendRaw(c.ctx, []byte("{\"type\":\"message\",\"id\":\"u\",\"text\":\"Just\xff\xfe brows\\u0000ing\\u0007 <script>alert(1)</script>\"}"))
	c.next("ack")
	entries, _ := ts.srv.App().Sessions().Transcript(context.Background(), conv, "", 0)
	var got string
	for _, e := range entries {
		if e.ClientID == "u" {
			got = e.Text
		}
	}
	if got != "Just\uFFFD\uFFFD browsing <script>alert(1)</script>" {
		t.Fatalf("stored %q", got)
	}
	// A 10 MB frame closes only that connection.
	big := dial(t, ts)
	big.conn.SendRaw(big.ctx, []byte(`{"type":"message","text":"`+strings.Repeat("x", 10<<20)+`"}`))
	select {
	case _, open := <-big.frames:
		for open {
			_, open = <-big.frames
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a 10 MB frame did not close its connection")
	}
	c.send(map[string]any{"type": "ping"})
	c.next("pong")
	bystander.say("b1", "Just browsing")
	bystander.bot("Enjoy! Ping us anytime.")
}

// TestVisitorsCannotReachOthersConversations tries to resume someone
// else's conversation with altered, replayed and foreign tokens.
func TestVisitorsCannotReachOthersConversations(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	a := dial(t, ts)
	tokenA, convA := a.start("qualify")
	b := dial(t, ts)
	tokenB, convB := b.start("qualify")
	parts := strings.Split(tokenA, ".")
	forged := []string{
		convB + "." + parts[1] + "." + parts[2],         // A's signature on B's id
		convB,                                           // a bare id
		strings.Replace(tokenB, ".", "x.", 1),           // B's token altered
		alterSignature(tokenA),                          // A's signature altered
		parts[0] + "." + "99999999999" + "." + parts[2], // a later expiry
		"",
	}
	for _, tok := range forged {
		x := dial(t, ts)
		x.send(map[string]any{"type": "resume", "token": tok})
		if f := x.next("error"); f["code"] != "bad_token" {
			t.Fatalf("resume with %q answered %v, want bad_token", tok, f)
		}
		x.send(map[string]any{"type": "message", "id": "m", "text": "Just browsing"})
		if f := x.next("error"); f["code"] != "no_conversation" {
			t.Fatalf("after a refused resume, a message answered %v", f)
		}
	}
	// A server with another secret (another installation) refuses A's token.
	rds2 := redistest.New(t)
	other := startServer(t, rds2, "../playbooks/bench")
	x := dial(t, other)
	x.send(map[string]any{"type": "resume", "token": tokenA})
	if f := x.next("error"); f["code"] != "bad_token" {
		t.Fatalf("a foreign server accepted the token: %v", f)
	}
	_ = convA
}

// alterSignature changes one character of a token's signature: the last
// but one, which carries six bits of the MAC (the last character of a
// base64 MAC carries fewer, and a lenient decoder may ignore the rest).
// It never returns the token unchanged (replacing the last two characters
// with "AA" did, once in a few thousand runs).
func alterSignature(tok string) string {
	i := len(tok) - 2
	c := byte('A')
	if tok[i] == c {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
