package redis_test

import (
	"context"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// oldRedis answers INFO as Redis 6.2 would, and passes every other command.
type oldRedis struct{}

func (oldRedis) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (oldRedis) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() == "info" {
			cmd.(*goredis.StringCmd).SetVal("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n")
			return nil
		}
		return next(ctx, cmd)
	}
}
func (oldRedis) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestEngineRefusesRedisBefore7: the engine's first Ping (serve's start)
// fails with the version found and the one needed on a Redis older than
// 7.0, instead of a script error on every turn; Redis 7 passes, on one
// node and on a Cluster.
func TestEngineRefusesRedisBefore7(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	rds.NeedsReal(t, "INFO server")
	opt, err := goredis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	old := goredis.NewClient(opt)
	t.Cleanup(func() { old.Close() })
	old.AddHook(oldRedis{})
	err = redisstore.NewEngine(old, rds.Prefix).Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "version 6.2.14") || !strings.Contains(err.Error(), "needs Redis 7.0 or later") {
		t.Fatalf("Ping on Redis 6.2: %v, want the version found and the one needed", err)
	}
	real := goredis.NewClient(opt)
	t.Cleanup(func() { real.Close() })
	if err := redisstore.NewEngine(real, rds.Prefix).Ping(ctx); err != nil {
		t.Fatalf("Ping on %s: %v", rds.URL, err)
	}
	cl := redistest.NewCluster(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { cc.Close() })
	if err := redisstore.NewEngine(cc, cl.Prefix).Ping(ctx); err != nil {
		t.Fatalf("Ping on the cluster: %v", err)
	}
}
