package engine_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// A trigger's when that comes out as nothing (an index past the end) is
// false, as a card's condition is, not an error.
func TestTriggerWhenOfNothingIsFalse(t *testing.T) {
	p, diags := dsl.Load("w.yaml", []byte(`playbook: w
trigger:
  when: "[true, false][visitor.visits]"
cards:
  a:
    end: done
`))
	if p == nil {
		t.Fatal(diags)
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for visits, want := range map[int]bool{0: true, 1: false, 5: false} {
		got, err := p.Trigger.WhenHolds(&engine.Visitor{Visits: visits}, now)
		if err != nil || got != want {
			t.Errorf("visits %d: when = %v, %v; want %v", visits, got, err, want)
		}
	}
}
