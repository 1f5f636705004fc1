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

// TestMasterInNodes: where ROLE is refused, a node's own line of CLUSTER
// NODES says whether it is a master still.
func TestMasterInNodes(t *testing.T) {
	other := "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30002@40002 master - 0 1426238317239 2 connected 5461-10922\n"
	master := "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30001@40001 myself,master - 0 1426238316232 1 connected 0-5460\n"
	replica := "67ed2db8d677e59ec4a4cefb06858cf2a1a89fa1 127.0.0.1:30001@40001 myself,slave e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 0 1426238316232 2 connected\n"
	if err := masterInNodes("a:1", other+master); err != nil {
		t.Fatalf("a master: %v", err)
	}
	for nodes, want := range map[string]string{
		other + replica: "slot map is stale",
		other:           "no line of its own",
	} {
		if err := masterInNodes("a:1", nodes); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", nodes, err, want)
		}
	}
}
