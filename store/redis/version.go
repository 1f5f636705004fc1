package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// minMajor is the oldest Redis the engine runs on: the turn script renews
// a transcript's expiry with PEXPIRE ... GT, new in Redis 7.0.
const minMajor = 7

// maxProbes bounds the PEXPIRE ... GT probes sent to one node: on a
// Cluster a probe whose key is in another master's slot is answered
// MOVED, and another key is tried.
const maxProbes = 64

// CheckVersion fails, with the version found and the one needed, unless
// every node rdb writes to (one node, or every master of a Cluster) is
// Redis 7.0 or later. Without it an older Redis would take the connection
// and then fail every turn with a script error.
//
// The version is read from INFO server. A node that refuses INFO with an
// error reply (an ACL user without @dangerous, common on managed Redis;
// miniredis, which has no server section) is asked for the feature
// itself instead: PEXPIRE on a key under prefix that does not exist, with
// GT, which Redis 7 answers 0 and an older Redis refuses. The probe key
// is never written. On a Cluster the key is one of the master's own slots
// (CLUSTER MYID and CLUSTER SLOTS, asked of the master; else keys tried
// until one is not MOVED, at most maxProbes).
func CheckVersion(ctx context.Context, rdb goredis.UniversalClient, prefix string) error {
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			return checkNode(ctx, n, n.Options().Addr, prefix, true)
		})
	}
	addr := "the server"
	if c, ok := rdb.(*goredis.Client); ok {
		addr = c.Options().Addr
	}
	return checkNode(ctx, rdb, addr, prefix, false)
}

// node is what CheckVersion asks of one node.
type node interface {
	goredis.Cmdable
	Do(ctx context.Context, args ...any) *goredis.Cmd
}

// checkNode checks one node: INFO server, or where INFO is refused, the
// PEXPIRE ... GT probe.
func checkNode(ctx context.Context, c node, addr, prefix string, cluster bool) error {
	info, infoErr := c.Info(ctx, "server").Result()
	if infoErr == nil {
		return versionOK(addr, info)
	}
	var refused goredis.Error
	if !errors.As(infoErr, &refused) {
		// Not an answer of Redis's: the network, a timeout, a closed client.
		return fmt.Errorf("Redis at %s: INFO server: %w", addr, infoErr)
	}
	var slots [][2]int
	if cluster {
		slots = ownSlots(ctx, c)
	}
	return probeGT(ctx, c, addr, infoErr, probeKeys(prefix, slots))
}

// probeGT sends PEXPIRE key 1 GT for each key until one is not MOVED.
func probeGT(ctx context.Context, c node, addr string, infoErr error, keys func(yield func(string) bool)) error {
	tried := 0
	for key := range keys {
		tried++
		err := c.Do(ctx, "PEXPIRE", key, 1, "GT").Err()
		if err == nil {
			return nil
		}
		if _, moved := goredis.IsMovedError(err); moved {
			continue
		}
		if _, ask := goredis.IsAskError(err); ask {
			continue
		}
		if strings.Contains(err.Error(), "wrong number of arguments") {
			return fmt.Errorf("Redis at %s is older than 7.0: it refuses PEXPIRE ... GT (%v), and INFO server, which would give its version (%v); Playbook needs Redis %d.0 or later (its turn script uses PEXPIRE ... GT)", addr, err, infoErr, minMajor)
		}
		return fmt.Errorf("Redis at %s refuses INFO server (%v), and PEXPIRE ... GT, tried in its stead to check for Redis %d.0 or later, too (%w): Playbook needs one of them (INFO is in the ACL category @dangerous; the engine's own commands are listed in docs/operations.md)", addr, infoErr, minMajor, err)
	}
	return fmt.Errorf("Redis at %s refuses INFO server (%v), and answered MOVED or ASK to PEXPIRE ... GT on each of the %d keys tried in its stead: cannot tell whether it is Redis %d.0 or later", addr, infoErr, tried, minMajor)
}

// probeKeys yields at most maxProbes keys under prefix for the probe: on
// one node (slots nil) "<prefix>version-probe:{0}", and others after it;
// on a Cluster, with the node's slot ranges, keys in those slots first.
func probeKeys(prefix string, slots [][2]int) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		n := 0
		key := func(i int) string { return prefix + "version-probe:{" + strconv.Itoa(i) + "}" }
		if len(slots) > 0 {
			// The first tags whose slot the node holds: a few CRCs each
			// for a master of a few thousand slots, bounded for one of few.
			for i := 0; i < 1<<20 && n < maxProbes/2; i++ {
				s := int(slot(strconv.Itoa(i)))
				for _, r := range slots {
					if r[0] <= s && s <= r[1] {
						if !yield(key(i)) {
							return
						}
						n++
						break
					}
				}
			}
		}
		for i := 0; n < maxProbes; i++ {
			if !yield(key(i)) {
				return
			}
			n++
		}
	}
}

// ownSlots is the slot ranges a Cluster node serves as a master, from its
// own CLUSTER MYID and CLUSTER SLOTS, or nil when it does not say.
func ownSlots(ctx context.Context, c node) [][2]int {
	id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
	if err != nil {
		return nil
	}
	all, err := c.ClusterSlots(ctx).Result()
	if err != nil {
		return nil
	}
	var own [][2]int
	for _, r := range all {
		if len(r.Nodes) > 0 && r.Nodes[0].ID == id {
			own = append(own, [2]int{r.Start, r.End})
		}
	}
	return own
}

// versionOK checks the redis_version of an INFO server reply.
func versionOK(addr, info string) error {
	v := ""
	for _, line := range strings.Split(info, "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			v = s
		}
	}
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil {
		return fmt.Errorf("Redis at %s: no version in its INFO reply (%q); Playbook needs Redis %d.0 or later", addr, v, minMajor)
	}
	if major < minMajor {
		return fmt.Errorf("Redis at %s is version %s; Playbook needs Redis %d.0 or later (its turn script uses PEXPIRE ... GT)", addr, v, minMajor)
	}
	return nil
}
