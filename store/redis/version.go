package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// minMajor is the oldest Redis the engine runs on: the turn script renews
// a transcript's expiry with PEXPIRE ... GT, new in Redis 7.0.
const minMajor = 7

// CheckVersion fails, with the version found and the one needed, unless
// every node rdb writes to (one node, or every master of a Cluster) is
// Redis 7.0 or later. Without it an older Redis would take the connection
// and then fail every turn with a script error.
func CheckVersion(ctx context.Context, rdb goredis.UniversalClient) error {
	check := func(ctx context.Context, c goredis.Cmdable, addr string) error {
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return fmt.Errorf("Redis at %s: INFO server: %w", addr, err)
		}
		return versionOK(addr, info)
	}
	if cc, ok := rdb.(*goredis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			return check(ctx, n, n.Options().Addr)
		})
	}
	addr := "the server"
	if c, ok := rdb.(*goredis.Client); ok {
		addr = c.Options().Addr
	}
	return check(ctx, rdb, addr)
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
