package conversation

import (
	"regexp"
	"slices"
	"testing"
	"time"
)

// Conversation ids sort by the millisecond they were made in (so the
// conversations under way are neighbours in an ordered store), keep the
// alphabet and length ids always had, and differ within one millisecond.
func TestNewIDAtSortsByTime(t *testing.T) {
	re := regexp.MustCompile(`^[a-z2-7]{26}$`)
	t0 := time.Date(2026, 12, 4, 16, 0, 0, 0, time.UTC)
	var ids []string
	for _, d := range []time.Duration{0, 0, time.Millisecond, 2 * time.Millisecond, time.Second, time.Hour, 24 * 365 * time.Hour, 100 * 365 * 24 * time.Hour} {
		id := NewIDAt(t0.Add(d))
		if !re.MatchString(id) {
			t.Fatalf("id %q: want 26 of [a-z2-7]", id)
		}
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Fatalf("two ids of one millisecond are equal: %s", ids[0])
	}
	if !slices.IsSorted(ids[1:]) || ids[0] > ids[2] {
		t.Fatalf("ids made later do not sort after: %v", ids)
	}
	if a, b := NewID(), NewID(); a == b || !re.MatchString(a) {
		t.Fatalf("NewID: %q, %q", a, b)
	}
}

// TestIDsOfOneMillisecondSortInTheOrderMade: a process's conversations made
// in the same millisecond sort in the order they were made, so that two
// chats handed off to a team in one millisecond keep their order in the
// queue (ties of the queue's time are broken by id), and each id keeps 64
// random bits: no two of 10,000 share them.
func TestIDsOfOneMillisecondSortInTheOrderMade(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	prev := NewIDAt(now)
	seen := map[string]bool{}
	for i := range 10000 {
		id := NewIDAt(now)
		if id <= prev {
			t.Fatalf("id %d of one millisecond, %s, sorts before the one made before it, %s", i, id, prev)
		}
		if seen[id[13:]] {
			t.Fatalf("id %s: its random part is repeated", id)
		}
		seen[id[13:]] = true
		prev = id
	}
	if later := NewIDAt(now.Add(time.Millisecond)); later <= prev {
		t.Fatalf("an id of the next millisecond, %s, sorts before %s", later, prev)
	}
}
