package main

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestDialRedis: one address is one node; several, or redis+cluster://, a
// cluster client with the options that reroute after a failover; and on a
// real cluster (PLAYBOOK_REDIS_CLUSTER) a seed node is enough to reach
// every slot.
func TestDialRedis(t *testing.T) {
	c, err := dialRedis("redis://127.0.0.1:6379/2")
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := c.(*redis.Client); !ok || n.Options().DB != 2 {
		t.Fatalf("one URL gave %T", c)
	}
	c.Close()
	for _, url := range []string{"127.0.0.1:7000,127.0.0.1:7001", "redis+cluster://127.0.0.1:7000", "redis://127.0.0.1:7000, redis://127.0.0.1:7001"} {
		c, err := dialRedis(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		cc, ok := c.(*redis.ClusterClient)
		if !ok {
			t.Fatalf("%s gave %T, want a cluster client", url, c)
		}
		o := cc.Options()
		if o.ReadOnly || o.MaxRedirects < 8 || !strings.HasPrefix(o.Addrs[0], "127.0.0.1:7000") {
			t.Fatalf("%s: options %+v", url, o)
		}
		c.Close()
	}
	if _, err := dialRedis("redis://127.0.0.1:7000,redis://bad host"); err == nil {
		t.Fatal("a bad node was accepted")
	}
	for _, e := range []error{io.EOF, syscall.ECONNREFUSED, &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, redisError("CLUSTERDOWN The cluster is down"), redisError("TRYAGAIN Multiple keys request during rehashing of slot")} {
		if !clusterChanged(e) {
			t.Errorf("clusterChanged(%v) = false", e)
		}
	}
	for _, e := range []error{nil, redis.Nil, context.Canceled, redisError("WRONGTYPE Operation against a key holding the wrong kind of value")} {
		if clusterChanged(e) {
			t.Errorf("clusterChanged(%v) = true", e)
		}
	}

	seed, _, _ := strings.Cut(os.Getenv("PLAYBOOK_REDIS_CLUSTER"), ",")
	if seed == "" {
		t.Log("PLAYBOOK_REDIS_CLUSTER is not set: the part on a real cluster is skipped")
		return
	}
	c, err = dialRedis("redis+cluster://" + seed)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var masters atomic.Int32 // ForEachMaster runs in parallel
	if err := c.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		return n.Ping(ctx).Err()
	}); err != nil || masters.Load() < 3 {
		t.Fatalf("from the seed %s: %d masters, %v", seed, masters.Load(), err)
	}
}

// redisError is an error reply, as go-redis gives them.
type redisError string

func (e redisError) Error() string { return string(e) }
func (redisError) RedisError()     {}
