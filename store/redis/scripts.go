package redis

import (
	"context"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// scripts are every Lua script of this package (newScript), loaded on
// every master when an Engine first finds Redis ready (loadScripts): a
// script's first call on a node then finds it there, instead of failing
// with NOSCRIPT and being sent again whole (a second round trip, on each
// master, for each script).
var scripts struct {
	mu  sync.Mutex
	all []*goredis.Script
	src []string // all's sources, in the same order
}

// newScript is goredis.NewScript, remembered in scripts.
func newScript(src string) *goredis.Script {
	s := goredis.NewScript(src)
	scripts.mu.Lock()
	scripts.all = append(scripts.all, s)
	scripts.src = append(scripts.src, src)
	scripts.mu.Unlock()
	return s
}

// loadScripts loads every script on rdb: one pipeline on one node, one
// per master on a Redis Cluster. A node that restarts or a replica that is
// promoted has none: a script's call there sends it whole, as before.
func loadScripts(ctx context.Context, rdb goredis.UniversalClient) error {
	scripts.mu.Lock()
	src := scripts.src
	scripts.mu.Unlock()
	load := func(ctx context.Context, c goredis.Cmdable) error {
		// SCRIPT LOAD, not Script.Load: that sets the script's hash to the
		// reply, which a pipeline has not read yet.
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, s := range src {
				p.ScriptLoad(ctx, s)
			}
			return nil
		})
		return err
	}
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error { return load(ctx, n) })
	}
	return load(ctx, rdb)
}
