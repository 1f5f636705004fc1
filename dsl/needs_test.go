package dsl_test

import (
	"slices"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// TestCardNeeds checks the vars each card needs set before a hand-back may
// enter it: read on some path from the card before a setter, without a
// default, where an unset var would stop the conversation.
func TestCardNeeds(t *testing.T) {
	p, diags := dsl.Load("needs.yaml", []byte(`playbook: needs
allow_hosts: [api.example.com]
vars:
  email: email
  budget: number
  plan: string
  n: {type: int, default: 0}
cards:
  start:
    choices:
      - {label: Email, goto: ask_email}
      - {label: Plan, goto: fetch}
    say: Hi
  ask_email:
    ask: Email?
    input: email
    save: email
    set: {n: n + 1}
  ask_budget:
    ask: Budget?
    input: number
    save: budget
    skip_if: "n > 5"
    set: {budget: budget ?? 0}
  total:
    say: "{{ upper(email) }} pays {{ budget * 12 }}"
    end: done
  fetch:
    call: {url: "https://api.example.com/plan", save: {plan: plan}, on_error: no_plan}
    branch:
      - {if: 'len(plan) > 3', goto: long}
  short:
    say: "{{ plan }}"
    end: short
  long:
    say: "{{ lower(plan) }} {{ email ?? '' }}"
    end: long
  no_plan:
    say: "{{ plan }} failed"
    end: failed
`))
	if p == nil || diags.HasErrors() {
		t.Fatalf("does not load:\n%v", diags)
	}
	for card, want := range map[string][]string{
		"start":      nil,
		"ask_email":  nil,                 // sets email; budget is set by ask_budget on both its ways
		"ask_budget": {"email"},           // total reads upper(email)
		"total":      {"budget", "email"}, // both read unguarded
		"fetch":      nil,                 // the call sets plan before its branch
		"short":      nil,                 // {{ plan }} alone shows nothing
		"long":       {"plan"},
		"no_plan":    nil,
	} {
		c, ok := p.Card(card)
		if !ok {
			t.Fatalf("no card %s", card)
		}
		if !slices.Equal(c.Needs, want) {
			t.Errorf("card %s needs %v, want %v", card, c.Needs, want)
		}
	}
}
