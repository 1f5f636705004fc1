package redis

import (
	"strings"
	"testing"
)

func TestClusterUp(t *testing.T) {
	ok := "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n"
	if err := clusterUp("a:1", ok); err != nil {
		t.Fatalf("a healthy cluster: %v", err)
	}
	for info, want := range map[string]string{
		"cluster_state:fail\r\ncluster_slots_assigned:16384\r\n": "cluster_state:fail",
		"cluster_state:ok\r\ncluster_slots_assigned:10923\r\n":   "10923 of 16384 slots assigned",
		"": "cluster_state:",
	} {
		err := clusterUp("a:1", info)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", info, err, want)
		}
	}
}

// TestStillMaster: a node the slot map calls a master that says it is a
// replica (a failover the client has not seen) makes the map stale.
func TestStillMaster(t *testing.T) {
	if err := stillMaster("a:1", []any{"master", int64(3129), []any{}}); err != nil {
		t.Fatalf("a master: %v", err)
	}
	for _, reply := range [][]any{{"slave", "127.0.0.1", int64(9000), "connected", int64(3167)}, {}} {
		err := stillMaster("a:1", reply)
		if err == nil {
			t.Errorf("%v: no error", reply)
		} else if len(reply) > 0 && !strings.Contains(err.Error(), "slot map is stale") {
			t.Errorf("%v: %v, want it to say the slot map is stale", reply, err)
		}
	}
}
