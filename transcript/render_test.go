package transcript_test

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/handoff"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/transcript"
)

func TestVisitorCopyHasNoNotesNorDeletedText(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	conv := &handoff.Conversation{ID: "c1", Playbook: "sales", StartedAt: at}
	entries := []redisstore.Entry{
		{ID: "1", From: "visitor", Kind: "message", Text: "Do you have SSO?", At: at},
		{ID: "2", From: "system", Kind: "handoff", Data: map[string]any{"team": "sales-tier2"}, At: at},
		{ID: "3", From: "system", Kind: "joined", Author: "Sam", At: at},
		{ID: "4", From: "agent", Kind: "message", Author: "Sam", Text: "wrong chat, sorry", At: at},
		{ID: "5", From: "system", Kind: "deleted", Data: map[string]any{"target": "4"}, At: at},
		{ID: "6", From: "agent", Kind: "note", Author: "Sam", Text: "discount approved", At: at},
		{ID: "7", From: "agent", Kind: "note", Author: "Sam", Text: "margin is thin", At: at},
		{ID: "8", From: "system", Kind: "deleted", Data: map[string]any{"target": "7"}, At: at},
		{ID: "9", From: "system", Kind: "record", Data: map[string]any{"kind": "lead", "fields": map[string]any{"value": 9000}}, At: at},
		{ID: "10", From: "agent", Kind: "message", Author: "Sam", Text: "Yes: SAML SSO.", At: at},
		{ID: "11", From: "visitor", Kind: "file", Text: "error.png", Data: map[string]any{"file": "f1", "name": "error.png", "type": "image/png", "size": 812}, At: at},
		{ID: "12", From: "agent", Kind: "file", Author: "Sam", Text: "sso-guide.pdf", Data: map[string]any{"file": "f2", "name": "sso-guide.pdf", "type": "application/pdf", "size": 9000, "author_id": "a1"}, At: at},
	}
	for _, c := range []struct {
		name      string
		text      string
		want, not []string
	}{
		{"visitor", transcript.Visitor(conv, entries),
			[]string{"You: Do you have SSO?", "Sam joined", "Sam: (message deleted)", "Sam: Yes: SAML SSO.", "You sent a file: error.png", "Sam sent a file: sso-guide.pdf"},
			[]string{"discount approved", "margin is thin", "wrong chat", "private note", "sales-tier2", "9000", "c1"}},
		{"internal", transcript.Internal(conv, entries),
			[]string{"Visitor: Do you have SSO?", "(private note) Sam: discount approved", "(private note) Sam: (note deleted)", "handed to team sales-tier2", "Visitor sent a file: error.png", "Sam sent a file: sso-guide.pdf"},
			[]string{"margin is thin", "wrong chat"}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.text, w) {
				t.Errorf("%s copy lacks %q:\n%s", c.name, w, c.text)
			}
		}
		for _, n := range c.not {
			if strings.Contains(c.text, n) {
				t.Errorf("%s copy holds %q:\n%s", c.name, n, c.text)
			}
		}
	}
}

func TestAddress(t *testing.T) {
	for in, want := range map[string]string{
		"ana@acme.io": "ana@acme.io", " Ana@Acme.IO ": "ana@acme.io", "<ana@acme.io>": "ana@acme.io",
		"": "", "ana": "", "Ana <ana@acme.io>": "", "a@b.io, c@d.io": "", "a@b.io\r\nBcc: c@d.io": "",
	} {
		got, err := transcript.Address(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("Address(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
