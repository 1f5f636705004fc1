package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	pbclient "github.com/playbook-dev/playbook/client"
)

// TestResumeOfALongConversation: a visitor who comes back to a
// conversation with more visible entries than a connection queues
// (protocol.SendBuffer) gets every one of them: the catch-up goes in parts,
// each written before the next is queued. Before, the connection was
// closed as too slow (and before that, hung with the widget locked), so a
// visitor could never resume a long chat: each reload was closed again.
func TestResumeOfALongConversation(t *testing.T) {
	dir := t.TempDir()
	const chatter = "playbook: chatter\nvars:\n  a: {type: string}\n  b: {type: string}\ncards:\n  first:\n    ask: First?\n    save: a\n  second:\n    ask: Second?\n    save: b\n    goto: first\n"
	if err := os.WriteFile(filepath.Join(dir, "chatter.yaml"), []byte(chatter), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startEmbedded(t, dir)
	c := dial(t, ts)
	c.send(map[string]any{"type": "start", "playbook": "chatter", "locale": "en"})
	token := c.next("welcome")["token"].(string)
	last := c.bot("First?")["id"].(string)
	// 40 answers, 10 a connection (a connection's messages are limited):
	// 81 entries.
	for i := range 40 {
		if i%10 == 0 && i > 0 {
			c.conn.CloseNow()
			c = dial(t, ts)
			c.send(map[string]any{"type": "resume", "token": token, "after": last})
			c.next("welcome")
		}
		c.send(map[string]any{"type": "message", "id": "m" + strconv.Itoa(i), "text": "answer " + strconv.Itoa(i)})
		want := "First?"
		if i%2 == 0 {
			want = "Second?"
		}
		last = c.bot(want)["id"].(string)
	}
	c.conn.CloseNow()
	// The resume's frames, or its connection's end; the context is only a
	// guard against a hang.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	r := pump(t, ctx, conn, closed)
	r.send(map[string]any{"type": "resume", "token": token, "after": ""})
	entries := 0
	for f := range r.frames {
		switch f["type"] {
		case "welcome":
			if err := conn.SendRaw(ctx, []byte(`{"type":"ping"}`)); err != nil {
				t.Fatal(err)
			}
		case "entry":
			entries++
		case "pong":
			// The greeting, the 40 answers and the bot's 40 questions.
			if entries < 81 {
				t.Fatalf("%d entries before the pong, want all 81", entries)
			}
			return
		}
	}
	t.Fatalf("the connection ended after %d entries, without the catch-up's end: %v", entries, <-closed)
}
