package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	pbclient "github.com/playbook-dev/playbook/client"
)

// TestResumeOfALongConversation: a visitor who comes back to a
// conversation with more visible entries than a connection queues
// (protocol.SendBuffer) gets an answer: the catch-up's frames, or the
// connection closed as too slow, never a connection that hangs with the
// widget locked.
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
	for f := range r.frames {
		switch f["type"] {
		case "welcome":
			// May fail: the connection may be closed meanwhile (below).
			_ = conn.SendRaw(ctx, []byte(`{"type":"ping"}`))
		case "pong":
			return
		}
	}
	// Closed: by the server, as a client too slow to take the catch-up's
	// frames (a resume of a long conversation is refused that way, a
	// defect of its own), not left waiting (the widget's delivery held
	// its lock while the connection's Push, refusing a frame, asked the
	// widget for its conversation: the connection hung, with no frame,
	// until its keep-alive ended it).
	err = <-closed
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("the resume got neither its frames nor a close as too slow: %v", err)
	}
}
