package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// TestStartRecordArgsAllocations: a start's inbox record goes to the turn
// script with its fixed fields by pointer, not each boxed: what is left
// is the record's key and the strings made for it (the start's time, the
// visitor's JSON). The values are the same.
func TestStartRecordArgsAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	s := New(rdb, Options{Prefix: "pb:"})
	id := "01JDQ4ZC8N8W2V3T5K7Y9A1B3C"
	t0 := time.UnixMilli(1800000000000).UTC()
	c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "qualify", Visitor: store.Visitor{Name: "Ann"}, StartedAt: t0, UpdatedAt: t0}
	rec := &startRecord{c: c, retention: 30 * 24 * time.Hour}
	args := make([]any, 0, 64)
	keys := make([]string, 0, 16)
	allocs := testing.AllocsPerRun(100, func() { args, keys = rec.add(s, id, args[:0], append(keys[:0], "k1", "k2", "k3")) })
	t.Logf("%.1f allocations", allocs)
	// 11 before: the id, the start's time, the retention, the status, the
	// playbook and the visitor's JSON each boxed; 5 after: the record's key,
	// the start's time, the visitor's JSON (encoding/json, 3).
	if allocs > 5 {
		t.Errorf("a start's record arguments allocate %.1f times, want at most 5", allocs)
	}
	want := []any{id, "1800000000000", int64(30 * 24 * time.Hour / time.Millisecond), string(store.StatusBot), "qualify", encodeVisitor(c.Visitor)}
	for i, w := range want {
		if got := argValue(args[i]); got != w {
			t.Errorf("argument %d is %v (%T), want %v", i, got, got, w)
		}
	}
}

// argValue is what go-redis writes for a: the value a pointer points to.
func argValue(a any) any {
	switch v := a.(type) {
	case *string:
		return *v
	case *int64:
		return *v
	}
	return a
}
