package bench

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// MasterKeys is what one master of a Redis Cluster holds.
type MasterKeys struct {
	Addr string `json:"addr"`
	// Slots is how many of the 16,384 hash slots the master serves.
	Slots int `json:"slots"`
	// Keys are the run's keys on the master (its prefix); All is every
	// key it holds (DBSIZE), other users' included.
	Keys int64 `json:"keys"`
	All  int64 `json:"all_keys"`
}

// KeysPerMaster counts, on each master of a Redis Cluster, the keys that
// start with prefix (SCAN) and all its keys (DBSIZE), with the slots it
// serves (CLUSTER NODES), sorted by address. A nil client (one Redis, not a
// cluster) gives nil.
func KeysPerMaster(ctx context.Context, rdb redis.UniversalClient, prefix string) ([]MasterKeys, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return nil, nil
	}
	var (
		mu  sync.Mutex
		out []MasterKeys
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		m := MasterKeys{Addr: n.Options().Addr}
		nodes, err := n.ClusterNodes(ctx).Result()
		if err != nil {
			return fmt.Errorf("%s: CLUSTER NODES: %w", m.Addr, err)
		}
		m.Slots = slotsOfMyself(nodes)
		if m.All, err = n.DBSize(ctx).Result(); err != nil {
			return fmt.Errorf("%s: DBSIZE: %w", m.Addr, err)
		}
		iter := n.Scan(ctx, 0, escapeGlob(prefix)+"*", 1000).Iterator()
		for iter.Next(ctx) {
			m.Keys++
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("%s: SCAN: %w", m.Addr, err)
		}
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out, err
}

// slotsOfMyself counts the slots of the "myself" line of a CLUSTER NODES
// reply: fields 9 and on are slots ("5461") or ranges ("0-5460"); importing
// and migrating slots ("[...]") are left out.
func slotsOfMyself(nodes string) int {
	for _, line := range strings.Split(nodes, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.Contains(f[2], "myself") {
			continue
		}
		n := 0
		for _, s := range f[8:] {
			if strings.HasPrefix(s, "[") {
				continue
			}
			lo, hi, isRange := strings.Cut(s, "-")
			a, err1 := strconv.Atoi(lo)
			b := a
			var err2 error
			if isRange {
				b, err2 = strconv.Atoi(hi)
			}
			if err1 == nil && err2 == nil && b >= a {
				n += b - a + 1
			}
		}
		return n
	}
	return 0
}

// escapeGlob escapes the characters SCAN's MATCH pattern gives a meaning.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}
