package conversation_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

const abTest = `playbook: ab
cards:
  hello:
    experiment: greeting
    variants:
      - {name: short, goto: short}
      - {name: long, goto: long}
  short:
    say: Hi!
    end: done
  long:
    say: Hello, how can we help you today?
    end: done
`

// TestVariantEntries: the variant a conversation goes into is a "variant"
// entry and is on its end entry, for the funnel; the widget sees neither.
func TestVariantEntries(t *testing.T) {
	f := newFixture(t, 0, 0)
	p, diags := dsl.Load("ab.yaml", []byte(abTest))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	s := engine.NewSession(p, "c1", now)
	s, effs := engine.Step(p, s, engine.Event{Kind: engine.EventStart, Now: now, Visitor: &engine.Visitor{ID: "v_1"}})
	entries := f.svc.Entries(p, s, nil, effs, now)
	want := s.Variants["greeting"]
	if want == "" {
		t.Fatalf("the session records no variant: %+v", s)
	}
	var variant, end bool
	for _, e := range entries {
		switch e.Kind {
		case "variant":
			variant = e.From == "system" && e.Card == "hello" && e.Data["experiment"] == "greeting" && e.Data["variant"] == want
		case "end":
			vs, _ := e.Data["variants"].(map[string]string)
			end = e.Data["outcome"] == "done" && vs["greeting"] == want
		}
	}
	if !variant || !end {
		t.Fatalf("entries %+v: want a variant entry and an end entry with variant %q", entries, want)
	}
	for _, e := range conversation.VisitorEntries(entries) {
		if e.Kind == "variant" || e.Data["variants"] != nil {
			t.Errorf("the widget sees %+v", e)
		}
	}
}
