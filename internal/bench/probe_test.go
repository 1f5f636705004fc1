package bench_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestProbeSumsEveryClusterNode: on a Redis Cluster the probe's Redis CPU
// is of every node, masters and replicas, and its command counts are of
// every master: ten INCRBYFLOATs on a key of each master count thirty
// (before, the probe asked one node, which counted ten), and so are the
// requests Redis read (at least the thirty).
func TestProbeSumsEveryClusterNode(t *testing.T) {
	cl := redistest.NewCluster(t)
	ctx := context.Background()
	// The nodes, by their flags (CLUSTER NODES: id, address, flags, ...).
	nodes, err := cl.Client.ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	masters, replicas := 0, 0
	for _, line := range strings.Split(strings.TrimSpace(nodes), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || strings.Contains(f[2], "fail") {
			continue
		}
		switch flags := "," + f[2] + ","; {
		case strings.Contains(flags, ",master,"):
			masters++
		case strings.Contains(flags, ",slave,"):
			replicas++
		}
	}
	byMaster := map[string]string{} // master -> a key of its slots
	for i := 0; len(byMaster) < masters; i++ {
		k := fmt.Sprintf("%sprobe%d", cl.Prefix, i)
		m, err := cl.Client.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if a := m.Options().Addr; byMaster[a] == "" {
			byMaster[a] = k
		}
	}
	p := &bench.Probe{Redis: cl.Client}
	before := p.Sample(ctx)
	for _, k := range byMaster {
		for range 10 {
			if err := cl.Client.IncrByFloat(ctx, k, 0.5).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	after := p.Sample(ctx)
	if after.RedisNodes != masters+replicas {
		t.Errorf("the probe summed %d nodes, want %d masters and %d replicas", after.RedisNodes, masters, replicas)
	}
	if got, want := after.Commands["incrbyfloat"]-before.Commands["incrbyfloat"], int64(10*masters); got < want {
		t.Errorf("INCRBYFLOAT counted %d times, want at least %d (10 on each master)", got, want)
	}
	if got, want := after.RedisReads-before.RedisReads, int64(10*masters); got < want {
		t.Errorf("Redis read %d requests, want at least %d (10 on each master)", got, want)
	}
	if after.RedisWrites-before.RedisWrites < int64(10*masters) {
		t.Errorf("Redis wrote %d times, want at least %d", after.RedisWrites-before.RedisWrites, 10*masters)
	}
	if after.RedisCPU <= 0 || after.RedisReplicaCPU < 0 || after.RedisReplicaCPU > after.RedisCPU || replicas > 0 && after.RedisReplicaCPU == 0 {
		t.Errorf("Redis CPU %v, of which replicas %v", after.RedisCPU, after.RedisReplicaCPU)
	}
}
