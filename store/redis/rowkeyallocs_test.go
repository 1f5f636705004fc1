package redis

import (
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// TestCountedKeysAllocations: a Counted fold's keys name the row's key
// without building it again on every turn (a day's conversations of one
// playbook version share the row, so each shard keeps its last one).
func TestCountedKeysAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	f := NewFunnels(nil, "pb:")
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "qualify", Version: "abc123", Variant: "b"}
	keys := make([]string, 0, 8)
	keys = f.countedKeys(keys[:0], "conv-1", key)
	allocs := testing.AllocsPerRun(100, func() { keys = f.countedKeys(keys[:0], "conv-1", key) })
	// 1 before (the row's key made every turn).
	if allocs > 0 {
		t.Errorf("countedKeys allocates %.1f times a turn, want 0", allocs)
	}
}

// TestCountedKeysAreRowKeys: the kept row key is the one rowKey makes,
// whichever row a shard's turns come from, in any order.
func TestCountedKeysAreRowKeys(t *testing.T) {
	f := NewFunnels(nil, "pb:")
	rows := []store.FunnelKey{
		{Day: "2026-12-06", Playbook: "qualify", Version: "abc123"},
		{Day: "2026-12-06", Playbook: "qualify", Version: "abc123", Variant: "b"},
		{Day: "2026-12-07", Playbook: "qualify", Version: "abc123"},
		{Day: "2026-12-06", Playbook: "other", Version: "abc123"},
		{Day: "2026-12-06", Playbook: "qualify", Version: "def456"},
	}
	convs := []string{"conv-1", "conv-2", "conv-3", "x", "y"}
	for i := range 200 {
		k := rows[(i*7)%len(rows)]
		conv := convs[(i*3)%len(convs)]
		keys := f.countedKeys(nil, conv, k)
		n := shardOf(conv)
		want := rowKey(f.shard(n), k)
		if len(keys) != 3 || keys[0] != want || keys[1] != want || keys[2] != f.rows[n] {
			t.Fatalf("turn %d: countedKeys(%q, %+v) = %q, want [%q %q %q]", i, conv, k, keys, want, want, f.rows[n])
		}
	}
}
