package protocol

import (
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
)

func TestEntryIDOrder(t *testing.T) {
	ids := []string{"", "1-0", "1-1", "1-10", "2-0", "10-0"}
	for i := range ids {
		for j := range ids {
			a, b := ParseEntryID(ids[i]), ParseEntryID(ids[j])
			if got, want := a.Less(b), i < j; got != want {
				t.Errorf("%q < %q: got %v, want %v", ids[i], ids[j], got, want)
			}
		}
		if got := ParseEntryID(ids[i]).String(); got != ids[i] {
			t.Errorf("ParseEntryID(%q).String() = %q", ids[i], got)
		}
	}
	if got := ParseEntryID("junk"); got != (EntryID{}) {
		t.Errorf("a malformed id reads as %v, want the zero id", got)
	}
}

// TestParseEntryIDAllocations: reading the zero id (a widget that starts
// following a new conversation from its first entry) and a well-formed
// one costs nothing; strconv's errors for the empty parts were two
// allocations a start.
func TestParseEntryIDAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	for _, id := range []string{"", "1800000000000-3"} {
		if n := testing.AllocsPerRun(100, func() { _ = ParseEntryID(id) }); n != 0 {
			t.Errorf("ParseEntryID(%q): %v allocations, want 0", id, n)
		}
	}
	for id, want := range map[string]EntryID{"12": {12, 0}, "-7": {0, 7}, "12-x": {12, 0}} {
		if got := ParseEntryID(id); got != want {
			t.Errorf("ParseEntryID(%q) = %v, want %v", id, got, want)
		}
	}
}
