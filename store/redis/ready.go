package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// slotsInCluster is how many hash slots a Redis Cluster has.
const slotsInCluster = 16384

// Ready reports whether rdb can serve conversations now: one Redis node
// answers PING; on a Redis Cluster every master the client knows answers
// PING, is a master still (ROLE, or CLUSTER NODES where an ACL refuses
// ROLE: else the client's slot map is stale, as after a failover the
// client has not seen yet) and says the cluster is up
// (cluster_state:ok) with all 16,384 slots assigned. While a dead master's
// replica is not promoted yet its slots answer nothing, and Ready says so.
// When a master does not answer or is one no longer, the client's slot
// map is reloaded, so the next call sees the promoted replica. The caller
// bounds the call with ctx.
func Ready(ctx context.Context, rdb redis.UniversalClient) error {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.Ping(ctx).Err()
	}
	var masters atomic.Int32
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		addr := n.Options().Addr
		if err := n.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("master %s: %w", addr, err)
		}
		if err := isMaster(ctx, n, addr); err != nil {
			return err
		}
		info, err := n.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("master %s: CLUSTER INFO: %w", addr, err)
		}
		return clusterUp(addr, info)
	})
	if err != nil {
		cc.ReloadState(context.WithoutCancel(ctx))
		return err
	}
	if masters.Load() == 0 {
		cc.ReloadState(context.WithoutCancel(ctx))
		return fmt.Errorf("no master known")
	}
	return nil
}

// isMaster checks that the node n the slot map calls a master is one
// still: by ROLE, or where ROLE is refused with an error reply (it is in
// the ACL category @dangerous, which managed Redis often withholds), by
// the flags of the node's own line in CLUSTER NODES.
func isMaster(ctx context.Context, n *redis.Client, addr string) error {
	role, err := n.Do(ctx, "ROLE").Slice()
	if err == nil {
		return stillMaster(addr, role)
	}
	var refused redis.Error
	if !errors.As(err, &refused) {
		return fmt.Errorf("master %s: ROLE: %w", addr, err)
	}
	nodes, nerr := n.ClusterNodes(ctx).Result()
	if nerr != nil {
		return fmt.Errorf("master %s: ROLE refused (%v), and CLUSTER NODES: %w", addr, err, nerr)
	}
	return masterInNodes(addr, nodes)
}

// masterInNodes checks the flags of the "myself" line of a CLUSTER NODES
// reply ("<id> <addr> myself,master ...").
func masterInNodes(addr, nodes string) error {
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !slices.Contains(strings.Split(f[2], ","), "myself") {
			continue
		}
		flags := strings.Split(f[2], ",")
		if slices.Contains(flags, "master") {
			return nil
		}
		return fmt.Errorf("master %s: it is no master now (CLUSTER NODES flags %s): the slot map is stale", addr, f[2])
	}
	return fmt.Errorf("master %s: no line of its own in CLUSTER NODES", addr)
}

// stillMaster checks the ROLE reply of a node the slot map calls a master.
func stillMaster(addr string, role []any) error {
	if len(role) > 0 {
		if r, _ := role[0].(string); r == "master" {
			return nil
		}
		return fmt.Errorf("master %s: it is a %v now: the slot map is stale", addr, role[0])
	}
	return fmt.Errorf("master %s: an empty ROLE reply", addr)
}

// clusterUp checks a CLUSTER INFO reply: state ok, every slot assigned.
func clusterUp(addr, info string) error {
	fields := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	if st := fields["cluster_state"]; st != "ok" {
		return fmt.Errorf("master %s: cluster_state:%s", addr, st)
	}
	if n, err := strconv.Atoi(fields["cluster_slots_assigned"]); err != nil || n != slotsInCluster {
		return fmt.Errorf("master %s: %s of %d slots assigned", addr, fields["cluster_slots_assigned"], slotsInCluster)
	}
	return nil
}
