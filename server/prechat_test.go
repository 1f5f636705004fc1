package server_test

import (
	"strings"
	"testing"
)

// TestPrechatFormIsCheckedOnTheServer: a start for a playbook with a
// pre-chat form gets the form and starts nothing; values the widget should
// have refused get invalid_prechat naming the field, and nothing starts;
// good values reach visitor.* before the first card, so the email
// question is skipped.
func TestPrechatFormIsCheckedOnTheServer(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/prechat")
	c := dial(t, ts)
	start := func(prechat map[string]any) {
		t.Helper()
		f := map[string]any{"type": "start", "playbook": "callback-request", "page": "/contact", "locale": "en-US"}
		if prechat != nil {
			f["prechat"] = prechat
		}
		c.send(f)
	}
	start(nil)
	form := c.next("prechat")
	fields, _ := form["fields"].([]any)
	if form["playbook"] != "callback-request" || form["intro"] != "A few details first, so we can get back to you." || len(fields) != 4 {
		t.Fatalf("prechat frame = %v", form)
	}
	consent := fields[3].(map[string]any)
	if consent["name"] != "consent" || consent["input"] != "checkbox" || consent["required"] != true || consent["label"] != "I agree to be contacted about my request" {
		t.Errorf("consent field = %v", consent)
	}

	refused := []struct {
		values map[string]any
		field  string
	}{
		{map[string]any{"email": "ana@acme.io"}, "consent"},                              // required box unticked
		{map[string]any{"email": "not an email", "consent": true}, "email"},              // malformed
		{map[string]any{"phone": "call me maybe", "consent": true}, "phone"},             // malformed
		{map[string]any{"name": strings.Repeat("é", 201), "consent": true}, "name"},      // too long
		{map[string]any{"email": "ana@acme.io", "consent": true, "phone": "1"}, "phone"}, // too few digits
	}
	for _, r := range refused {
		start(r.values)
		e := c.next("error")
		if e["code"] != "invalid_prechat" || e["field"] != r.field || e["message"] == "" {
			t.Errorf("values %v answered %v, want invalid_prechat on %s", r.values, e, r.field)
		}
	}
	// Nothing started: a message still has no conversation.
	c.send(map[string]any{"type": "message", "id": "m1", "text": "hi"})
	if e := c.next("error"); e["code"] != "no_conversation" {
		t.Fatalf("after refused forms, a message answered %v", e)
	}

	start(map[string]any{"name": "Ana", "email": " ana@acme.io ", "phone": "+1 415 555 0100", "consent": true})
	c.next("welcome")
	c.bot("Hi Ana!")
	c.bot("What should we get back to you about?") // the email question was skipped
	c.say("m2", "a quote")
	c.bot("Thanks! We'll write to ana@acme.io about it.")
}
