package redis_test

import (
	"testing"

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
