package engine_test

import (
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
