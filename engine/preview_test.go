package engine_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// TestPreviewCreates: the lead and deal a playbook's create cards would
// make, from what the session has collected; a field over a var not
// collected yet is left out, and the session is not changed.
func TestPreviewCreates(t *testing.T) {
	p, diags := dsl.Load("preview.yaml", []byte(`playbook: preview
vars:
  email: email
  budget: number
  start: date
cards:
  ask:
    ask: Budget?
    input: number
    save: budget
  capture:
    say: Thanks
    create:
      lead:
        title: "{{ email }} ({{ budget }})"
        person: {email: email}
        value: budget * 12
        currency: "USD"
        source: "website chat"
      deal:
        title: "Deal {{ email }}"
        stage: "Qualified"
        expected_close: start
      task:
        subject: "Call back"
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	s := engine.NewSession(p, "c1", now)
	s.Vars = map[string]any{"email": "ana@acme.io", "budget": 2500.0}
	got := engine.PreviewCreates(p, s, now)
	lead, deal := got[engine.RecordLead], got[engine.RecordDeal]
	if lead["title"] != "ana@acme.io (2500)" || lead["value"] != 30000.0 || lead["currency"] != "USD" || lead["source"] != "website chat" {
		t.Errorf("lead = %v", lead)
	}
	if _, ok := lead["person"]; ok {
		t.Errorf("the nested person is in the lead: %v", lead)
	}
	if deal["title"] != "Deal ana@acme.io" || deal["stage"] != "Qualified" {
		t.Errorf("deal = %v", deal)
	}
	if _, ok := deal["expected_close"]; ok {
		t.Errorf("expected_close from a var not collected: %v", deal["expected_close"])
	}
	if _, ok := got[engine.RecordTask]; ok {
		t.Errorf("a task preview: %v", got)
	}
	if s.Status == engine.StatusFailed || len(s.Vars) != 2 {
		t.Errorf("the session changed: status %q, vars %v", s.Status, s.Vars)
	}
}
