package server_test

import (
	"regexp"
	"testing"
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
