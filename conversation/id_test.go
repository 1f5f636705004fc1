package conversation

import (
	"regexp"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/playbook-dev/playbook/store/redis"
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

// clusterStore is a Redis store on a Cluster client that never connects:
// PlaceID needs no Redis.
func clusterStore(t testing.TB) *redisstore.Store {
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	t.Cleanup(func() { rdb.Close() })
	return redisstore.New(rdb, redisstore.Options{})
}

// TestPlacedIDs: the ids a store places (a Redis Cluster's) are the ids
// of NewIDAt with a trailing '1', sort by time and in the order made as
// they do, and each is placed.
func TestPlacedIDs(t *testing.T) {
	st := clusterStore(t)
	re := regexp.MustCompile(`^[a-z2-7]{26}1$`)
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	prev := NewIDAt(now.Add(-time.Millisecond))
	for i := range 200 {
		id := newIDAt(now, st.PlaceID)
		if !re.MatchString(id) {
			t.Fatalf("placed id %q: want 26 of [a-z2-7] and 1", id)
		}
		if _, ok := st.PlaceID([]byte(id[:26])); !ok {
			t.Fatalf("placed id %q: not placed", id)
		}
		if id <= prev {
			t.Fatalf("placed id %d, %s, sorts before the one made before it, %s", i, id, prev)
		}
		prev = id
	}
	if later := NewIDAt(now.Add(time.Millisecond)); later <= prev {
		t.Fatalf("an id of the next millisecond, %s, sorts before %s", later, prev)
	}
}

// BenchmarkNewIDAt: an id, and a placed one (its last three characters
// changed to land it).
func BenchmarkNewIDAt(b *testing.B) {
	now := time.Now()
	b.Run("any", func(b *testing.B) {
		for b.Loop() {
			NewIDAt(now)
		}
	})
	b.Run("placed", func(b *testing.B) {
		place := clusterStore(b).PlaceID
		for b.Loop() {
			newIDAt(now, place)
		}
	})
}
