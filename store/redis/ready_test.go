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
