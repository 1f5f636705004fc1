package redis_test

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/race"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestPlacedKeysAllocations: on a Cluster a placed conversation's turn
// names its shard twice, in its live argument (its shard channel, a
// newline and its id) and in its pending set's key; each is one string
// built in one allocation, the shard's tag made once for the process.
// Before, the tag was built for each (2.3 allocations a turn in serve's
// heap profile on a Cluster) and the live argument in four.
func TestPlacedKeysAllocations(t *testing.T) {
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}) // never dialled
	defer rdb.Close()
	st := redisstore.New(rdb, redisstore.Options{Prefix: "pb:"})
	id, ok := st.PlaceID([]byte("2al6qsjf46223xspyix67445w6"))
	if !ok {
		t.Fatal("PlaceID refused")
	}
	ch := st.Channel(id)
	live := redisstore.LiveArg(st, ch)
	shard := live[:len(live)-len("live\n")-len(id)] // pb:{fn:N}:
	if want := shard + "live\n" + id; live != want || len(shard) < len("pb:{fn:16}:") || shard[:7] != "pb:{fn:" {
		t.Fatalf("live argument %q, want the shard channel, a newline and %s", live, id)
	}
	mark := id + "|n1"
	if got, want := redisstore.MarkKey(st, mark), shard+"pending"; got != want {
		t.Fatalf("pending set %q, want %q (the live argument's shard)", got, want)
	}
	if race.Enabled {
		t.Skip("the race detector adds allocations of its own")
	}
	if a := testing.AllocsPerRun(100, func() { _ = redisstore.LiveArg(st, ch) }); a != 1 {
		t.Errorf("live argument: %.1f allocations, want 1", a)
	}
	if a := testing.AllocsPerRun(100, func() { _ = redisstore.MarkKey(st, mark) }); a != 1 {
		t.Errorf("pending set's key: %.1f allocations, want 1", a)
	}
}
