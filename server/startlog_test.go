package server_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/servertest"
)

// TestConversationStartedLine: a start logs "conversation started" with
// the conversation, its playbook, the version's first 12 digits and the
// page without its query string, once the visitor's start is handled.
func TestConversationStartedLine(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/bench")
	c := dial(t, ts)
	c.send(map[string]any{"type": "start", "playbook": "qualify", "page": "https://acme.io/pricing?email=ana@acme.io", "locale": "en"})
	conv := c.next("welcome")["conversation"].(string)
	c.send(map[string]any{"type": "ping"})
	c.next("pong") // the start's frame is handled: its line is written
	re := regexp.MustCompile(`level=INFO msg="conversation started" conversation=` + conv + ` playbook=qualify version=[0-9a-f]{12} page=https://acme.io/pricing\n`)
	if !re.MatchString(ts.log.String()) {
		t.Fatalf("no line matching %s in\n%s", re, ts.log.String())
	}
}

// TestVisitorWebsocketOneLine (issue 13, ninth round): with the access
// log on, a visitor's websocket that starts a conversation writes one
// line, its access line with the conversation's fields ("conversation
// started" said apart, in a second write, before); one that resumes
// writes its access line as before, once its first frame is handled, and
// one that ends without a frame writes it when it ends.
func TestVisitorWebsocketOneLine(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) { c.Config.AccessLog = true })
	lines := func(substr string) []string {
		var found []string
		for _, l := range strings.Split(ts.log.String(), "\n") {
			if strings.Contains(l, substr) {
				found = append(found, l)
			}
		}
		return found
	}
	c := dial(t, ts)
	c.send(map[string]any{"type": "start", "playbook": "qualify", "page": "https://acme.io/pricing?email=ana@acme.io", "locale": "en"})
	w := c.next("welcome")
	conv, token := w["conversation"].(string), w["token"].(string)
	c.send(map[string]any{"type": "ping"})
	c.next("pong") // the start's frame is handled: its line is written
	re := regexp.MustCompile(`^time=\S+ level=INFO msg="http request" id=[0-9a-f]{16} method=GET route=/ws/visitor status=101 duration=\S+ bytes=0 conversation=` + conv + ` playbook=qualify version=[0-9a-f]{12} page=https://acme.io/pricing$`)
	if got := lines(conv); len(got) != 1 || !re.MatchString(got[0]) {
		t.Errorf("the start's lines:\n%s\nwant one matching %s", strings.Join(got, "\n"), re)
	}
	if got := lines(`msg="conversation started"`); len(got) != 0 {
		t.Errorf("a separate start line: %s", strings.Join(got, "\n"))
	}
	// A resume: its access line, without a conversation.
	r := dial(t, ts)
	r.send(map[string]any{"type": "resume", "token": token, "after": ""})
	r.next("welcome")
	r.send(map[string]any{"type": "ping"})
	r.next("pong")
	if got := lines("route=/ws/visitor"); len(got) != 2 || strings.Contains(got[1], "conversation=") {
		t.Errorf("after a resume, the websockets' lines:\n%s\nwant 2, the second without a conversation", strings.Join(got, "\n"))
	}
	// A websocket that sends nothing: its line when it ends.
	q := dial(t, ts)
	q.conn.CloseNow()
	deadline := time.Now().Add(10 * time.Second) // a guard against a hang
	for len(lines("route=/ws/visitor")) < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := lines("route=/ws/visitor"); len(got) != 3 || strings.Contains(got[2], "conversation=") {
		t.Errorf("after a websocket without a frame, the lines:\n%s\nwant 3", strings.Join(got, "\n"))
	}
}
