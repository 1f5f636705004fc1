package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// TestVisitorDefaultsAndSetTemplates runs DSL.md's greeting, where an
// unknown visitor name falls back with ??, and a set that builds a text.
func TestVisitorDefaultsAndSetTemplates(t *testing.T) {
	src := `playbook: greet
vars:
  greeting: {type: string}
cards:
  prepare:
    set:
      greeting: "Hi {{ visitor.name ?? 'there' }} from {{ visitor.page }}"
  hello:
    say: "{{ greeting }}!"
    end: done
`
	prog, diags := dsl.Load("greet.yaml", []byte(src))
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		visitor engine.Visitor
		want    string
	}{
		{engine.Visitor{Page: "/pricing"}, "Hi there from /pricing!"},
		{engine.Visitor{Name: "Ana", Page: "/demo"}, "Hi Ana from /demo!"},
	} {
		s := engine.NewSession(prog, "s1", now)
		_, effs := engine.Step(prog, s, engine.Event{Kind: engine.EventStart, Now: now, Visitor: &tt.visitor})
		if len(effs) == 0 || effs[0].Kind != engine.EffectSay || effs[0].Text != tt.want {
			t.Errorf("visitor %+v: effects %+v, want say %q", tt.visitor, effs, tt.want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"90s": 90 * time.Second, "2m": 2 * time.Minute, "1h30m": 90 * time.Minute,
		"2d": 48 * time.Hour, "1w": 7 * 24 * time.Hour, "3 days": 72 * time.Hour, "1 week": 7 * 24 * time.Hour,
	} {
		got, err := engine.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "soon", "2 fortnights", "d"} {
		if _, err := engine.ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) accepted", bad)
		}
	}
}

// TestHostileExpressions: expressions cannot exhaust memory in one turn
// (expr's memory budget) nor grow a var without bound across turns.
func TestHostileExpressions(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct{ expr, want string }{
		{`repeat("a", 100000000)`, "the value is too large"}, // refused before it is made
		{`len(map(1..100000000, #))`, "memory budget exceeded"},
		{`repeat("a", 70000)`, "the value is too large"},
		{`map(1..2000, #)`, "the value is too large"},
	} {
		src := "playbook: h\nvars:\n  x: any\ncards:\n  a:\n    set: {x: '" + tt.expr + "'}\n    end: done\n"
		p, diags := dsl.Load("h.yaml", []byte(src))
		if p == nil {
			t.Fatalf("%s: %v", tt.expr, diags)
		}
		s := engine.NewSession(p, "s", now)
		s, effs := engine.Step(p, s, engine.Event{Kind: engine.EventStart, Now: now})
		var msg string
		for _, e := range effs {
			if e.Kind == engine.EffectError {
				msg = e.Error.Msg
			}
		}
		if !strings.Contains(msg, tt.want) || s.Status != engine.StatusFailed {
			t.Errorf("%s: status %s, error %q; want %q", tt.expr, s.Status, msg, tt.want)
		}
	}
	// Doubling a text on every message stops at the limit.
	src := `playbook: grow
vars:
  x: {type: string, default: "aaaaaaaaaaaaaaaa"}
cards:
  loop:
    ask: Say something
    set: {x: x + x}
    goto: loop
`
	p, diags := dsl.Load("grow.yaml", []byte(src))
	if p == nil {
		t.Fatal(diags)
	}
	s := engine.NewSession(p, "s", now)
	s, _ = engine.Step(p, s, engine.Event{Kind: engine.EventStart, Now: now})
	turns := 0
	for s.Status == engine.StatusWaiting && turns < 100 {
		s, _ = engine.Step(p, s, engine.Event{Kind: engine.EventText, Text: "hi", Now: now})
		turns++
	}
	if s.Status != engine.StatusFailed || len(s.Vars["x"].(string)) > engine.MaxVarText {
		t.Fatalf("after %d turns: status %s, x has %d bytes", turns, s.Status, len(s.Vars["x"].(string)))
	}
}
