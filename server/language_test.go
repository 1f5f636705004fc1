package server_test

import (
	"strings"
	"testing"
)

// TestFirstMessagePicksTheLanguage: a visitor with an English browser who
// writes Spanish gets the playbook's Spanish texts from then on; one word
// ("Hola") is too ambiguous and leaves the browser's language.
func TestFirstMessagePicksTheLanguage(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/faq")
	nextBot := func(c *client) string {
		t.Helper()
		for {
			e := c.next("entry")["entry"].(map[string]any)
			if e["from"] == "bot" && e["kind"] == "message" {
				return e["text"].(string)
			}
		}
	}
	for _, tt := range []struct {
		first string
		want  []string // the reply starts with one of these
	}{
		{"Hola, necesito ayuda con los precios", []string{"Los planes empiezan", "Perdona, no estoy seguro"}},
		{"Hola", []string{"Sorry, I'm not sure", "Plans start"}},
	} {
		c := dial(t, ts)
		c.send(map[string]any{"type": "start", "playbook": "support-faq", "page": "/help", "locale": "en-US"})
		c.next("welcome")
		c.bot("Hi, I'm Leo. Ask me anything about your account, billing or orders.")
		c.bot("What's your question?")
		c.say("m1", tt.first)
		got := nextBot(c)
		ok := false
		for _, w := range tt.want {
			ok = ok || strings.HasPrefix(got, w)
		}
		if !ok {
			t.Errorf("after %q the bot said %q, want one of %q", tt.first, got, tt.want)
		}
	}
}
