package conversation_test

import (
	"slices"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// TestVisitorEntries: what the widget shows of a transcript. Internal
// entries stay out, a deleted message keeps no text, and what only
// agents may see is stripped from the rest.
func TestVisitorEntries(t *testing.T) {
	in := []store.Entry{
		{ID: "1-0", From: "bot", Kind: "message", Text: "Hi", Card: "greet"},
		{ID: "2-0", From: "visitor", Kind: "message", Text: "my card is 4111"},
		{ID: "3-0", From: "system", Kind: "record", Data: map[string]any{"kind": "lead"}},
		{ID: "4-0", From: "agent", Kind: "note", Text: "VIP"},
		{ID: "5-0", From: "system", Kind: "deleted", Data: map[string]any{"target": "2-0"}},
		{ID: "6-0", From: "system", Kind: "deleted", Data: map[string]any{"target": "4-0", "private": true}},
		{ID: "7-0", From: "agent", Kind: "message", Text: "Hello", Author: "Bo", Data: map[string]any{conversation.AuthorIDKey: "a1"}},
		{ID: "8-0", From: "system", Kind: "handoff", Data: map[string]any{"team": "sales", "wait_s": 60, "priority": 2}},
		{ID: "9-0", From: "system", Kind: "missed", Text: "Nobody took the chat in time"},
		{ID: "10-0", From: "system", Kind: "away", Data: map[string]any{"team": "sales"}},
		{ID: "11-0", From: "system", Kind: "error", Text: "Sorry", Data: map[string]any{"pos": "a.yaml:3:5", "message": "x"}},
		{ID: "12-0", From: "system", Kind: "end", Data: map[string]any{"outcome": "disqualified"}},
	}
	orig := slices.Clone(in)
	got := conversation.VisitorEntries(in)
	var ids []string
	for _, e := range got {
		ids = append(ids, e.ID)
	}
	if want := []string{"1-0", "2-0", "5-0", "7-0", "8-0", "11-0", "12-0"}; !slices.Equal(ids, want) {
		t.Fatalf("entries %q, want %q", ids, want)
	}
	byID := map[string]protocol.Entry{}
	for _, e := range got {
		byID[e.ID] = e
	}
	if e := byID["1-0"]; e.Card != "" || e.Text != "Hi" {
		t.Errorf("bot message %+v: the card stays with the agents", e)
	}
	if e := byID["2-0"]; e.Text != "" || e.From != "visitor" || e.Kind != "message" {
		t.Errorf("deleted message %+v: its text must be gone", e)
	}
	if e := byID["7-0"]; e.Data != nil || e.Author != "Bo" {
		t.Errorf("agent message %+v: the agent's id stays internal", e)
	}
	if e := byID["8-0"]; len(e.Data) != 1 || e.Data["team"] != "sales" {
		t.Errorf("handoff %+v: only its team", e)
	}
	if e := byID["11-0"]; e.Data != nil || e.Text != "Sorry" {
		t.Errorf("error %+v: no position", e)
	}
	if e := byID["12-0"]; e.Data != nil {
		t.Errorf("end %+v: the outcome is internal", e)
	}
	if in[1].Text != orig[1].Text || in[0].Card != "greet" {
		t.Error("VisitorEntries changed its input")
	}
}
