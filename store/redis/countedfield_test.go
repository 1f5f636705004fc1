package redis

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// TestCountedFieldReadsBack: the row's field of a Counted fold names its
// counters, in order, and the funnel's read (fieldCounters) gives them
// back, whatever bytes they hold; the field of one counter is the counter.
// It is valid JSON (what encoding/json reads).
func TestCountedFieldReadsBack(t *testing.T) {
	for _, counters := range [][]string{
		{"answered|hello"},
		{"started", "reached|hello", "asked|hello"},
		{"answered|hello", "time|hello|500", "reached|email", "asked|email"},
		{"outcome|say \"hi\"", `record|a\b`, "outcome|olé", "outcome|<b>&", "outcome|tab\there", "outcome|[x]"},
		{"reached|x", "reached|x"},
	} {
		facts := make([]store.FunnelFact, len(counters))
		for i, c := range counters {
			facts[i] = store.FunnelFact{Counter: c}
		}
		field, err := countedField(facts)
		if err != nil {
			t.Fatal(err)
		}
		if got := fieldCounters(field); !slices.Equal(got, counters) {
			t.Errorf("field %q reads as %q, want %q", field, got, counters)
		}
		if len(counters) > 1 {
			var back []string
			if err := json.Unmarshal([]byte(field), &back); err != nil || !slices.Equal(back, counters) {
				t.Errorf("field %q: encoding/json reads %q (%v)", field, back, err)
			}
		} else if field != counters[0] {
			t.Errorf("the field of one counter is %q, want the counter %q", field, counters[0])
		}
	}
}

// TestCountedFieldAllocations: a turn's field of plain counters is made
// in one allocation (4 with encoding/json's Marshal of the counters).
func TestCountedFieldAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	facts := []store.FunnelFact{{Counter: "answered|hello"}, {Counter: "time|hello|500"}, {Counter: "reached|email"}, {Counter: "asked|email"}}
	if n := testing.AllocsPerRun(100, func() { _, _ = countedField(facts) }); n > 1 {
		t.Errorf("%.0f allocations for a turn's field, want 1", n)
	}
}
