package redis_test

import (
	"math/rand/v2"
	"regexp"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestSlot: the hash slots Redis Cluster gives (CLUSTER KEYSLOT), and as
// many placed slots as placed shards, each its own.
func TestSlot(t *testing.T) {
	for tag, want := range map[string]uint16{"foo": 12182, "123456789": 0x31c3 % 16384, "": 0} {
		if got := redisstore.Slot(tag); got != want {
			t.Errorf("Slot(%q) = %d, want %d", tag, got, want)
		}
	}
	if n := redisstore.PlacedSlots(); n != redisstore.PlacedShards {
		t.Errorf("%d placed slots, want %d", n, redisstore.PlacedShards)
	}
}

// TestPlaceIDTakesEveryID: on a Cluster a Store takes every id NewIDAt
// could make: one that lands in a placed slot as it is, any other with
// its last three characters changed (to characters NewIDAt's last three
// may have) so that it does; the rest of the id is kept, and the ids
// taken spread over the placed slots. Before, it refused 63 ids in 64,
// and the caller drew the random bits again (a CRC16 of the id each).
func TestPlaceIDTakesEveryID(t *testing.T) {
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer rdb.Close()
	st := redisstore.New(rdb, redisstore.Options{})
	const alphabet = "234567abcdefghijklmnopqrstuvwxyz"
	valid := regexp.MustCompile(`^[a-z2-7]{25}[26cgkosw]1$`) // the 26th holds 3 bits
	slots, asIs := map[uint16]bool{}, 0
	for range 20000 {
		b := make([]byte, 26)
		for i := range b[:25] {
			b[i] = alphabet[rand.IntN(32)]
		}
		b[25] = alphabet[rand.IntN(8)<<2]
		id := string(b)
		placed, ok := st.PlaceID(b)
		if !ok {
			t.Fatalf("PlaceID(%q) refused", id)
		}
		if string(b) != id {
			t.Fatalf("PlaceID changed its argument: %q, was %q", b, id)
		}
		if !valid.MatchString(placed) || placed[:23] != id[:23] {
			t.Fatalf("PlaceID(%q) = %q: want its first 23 characters, three of the id alphabet and 1", id, placed)
		}
		if placed[:26] == id {
			asIs++
		}
		s := redisstore.Slot("c:" + placed)
		if !redisstore.IsPlacedSlot(s) {
			t.Fatalf("PlaceID(%q) = %q, in slot %d, not a placed one", id, placed, s)
		}
		slots[s] = true
		if again, ok := st.PlaceID([]byte(placed[:26])); !ok || again != placed {
			t.Fatalf("PlaceID(%q) = %q, %v: a placed id is taken as it is", placed[:26], again, ok)
		}
	}
	if len(slots) < redisstore.PlacedShards*9/10 {
		t.Errorf("20,000 ids in %d placed slots of %d", len(slots), redisstore.PlacedShards)
	}
	if asIs < 100 || asIs > 800 {
		t.Errorf("%d of 20,000 ids taken as they were, want about 1 in 64", asIs)
	}
}
