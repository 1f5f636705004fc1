// Package redistest gives tests a Redis to talk to: the real server named by
// PLAYBOOK_REDIS_URL (what CI sets), or else an in-process miniredis. With
// CI=true and no PLAYBOOK_REDIS_URL it fails the test loudly, so CI can
// never pass on the fake by accident.
//
// The fast tier (`go test -short ./...`) runs without Redis, browsers or
// subprocesses: under -short, New and NewCluster skip the test, and
// SkipShort skips any other test that needs one of those.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// Server is a Redis for one test.
type Server struct {
	Client *redis.Client
	// Prefix is a fresh key prefix for this test ("t1a2b3c4:"), so tests
	// sharing one real Redis never see each other's keys.
	Prefix string
	// Mini is the miniredis, or nil on a real Redis.
	Mini *miniredis.Miniredis
	// URL is the address the client uses.
	URL string
}

// NeedsReal skips t on the in-process miniredis (no PLAYBOOK_REDIS_URL
// outside CI), saying what of a real Redis the test needs.
func (s *Server) NeedsReal(t testing.TB, what string) {
	t.Helper()
	if s.Mini != nil {
		t.Skipf("needs a real Redis (%s); miniredis stands in here", what)
	}
}

// Real reports whether tests run against a real Redis.
func Real() bool { return os.Getenv("PLAYBOOK_REDIS_URL") != "" }

// SkipShort skips t under -short (the fast tier), saying what it needs
// that the fast tier does not have: "starts a browser", "starts serve
// processes".
func SkipShort(t testing.TB, needs string) {
	t.Helper()
	if testing.Short() {
		t.Skipf("skipped under -short (the fast tier): the test %s", needs)
	}
}

// NeedServerBinary skips a test that starts its own redis-server (a
// private one, or one it kills) under -short or where there is none,
// except in CI, where a missing redis-server fails it.
func NeedServerBinary(t testing.TB) {
	t.Helper()
	SkipShort(t, "starts redis-server")
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but redis-server is not installed: the test starts one of its own")
		}
		t.Skip("redis-server is not installed")
	}
}

// New returns a Redis for t, closed when t ends. Under -short it skips t:
// the fast tier has no Redis.
func New(t testing.TB) *Server {
	t.Helper()
	SkipShort(t, "needs Redis")
	url := os.Getenv("PLAYBOOK_REDIS_URL")
	if url == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but PLAYBOOK_REDIS_URL is not set: tests that need Redis must run against a real Redis in CI")
		}
		m := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: m.Addr()})
		t.Cleanup(func() { c.Close() })
		return &Server{Client: c, Prefix: prefix(), Mini: m, URL: "redis://" + m.Addr()}
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("PLAYBOOK_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PLAYBOOK_REDIS_URL=%s: %v", url, err)
	}
	srv := &Server{Client: c, Prefix: prefix(), URL: url}
	t.Cleanup(func() {
		// Leave the shared Redis as it was found.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, srv.Prefix+"*", 500).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return srv
}

func prefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "t" + hex.EncodeToString(b[:]) + ":"
}

// Cluster is a Redis Cluster for one test.
type Cluster struct {
	Client *redis.ClusterClient
	// Prefix is a fresh key prefix for this test, as Server's.
	Prefix string
	// Addrs are the cluster's nodes, as PLAYBOOK_REDIS_CLUSTER lists them.
	Addrs []string
}

// ClusterAddrs returns the nodes named by PLAYBOOK_REDIS_CLUSTER (a
// comma-separated list, what scripts/test exports), or nil.
func ClusterAddrs() []string {
	var addrs []string
	for _, a := range strings.Split(os.Getenv("PLAYBOOK_REDIS_CLUSTER"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// NewCluster returns a client of the Redis Cluster named by
// PLAYBOOK_REDIS_CLUSTER, with a fresh key prefix whose keys are deleted
// when t ends. Without PLAYBOOK_REDIS_CLUSTER the test is skipped, except
// under CI=true, where it fails: CI must run the cluster tests. Under
// -short it skips t.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	SkipShort(t, "needs a Redis Cluster")
	addrs := ClusterAddrs()
	if len(addrs) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but PLAYBOOK_REDIS_CLUSTER is not set: the Redis Cluster tests must run in CI (scripts/test starts one)")
		}
		t.Skip("PLAYBOOK_REDIS_CLUSTER is not set (comma-separated cluster nodes; scripts/test starts a cluster): skipping the Redis Cluster test")
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.ForEachShard(ctx, func(ctx context.Context, n *redis.Client) error {
		return n.Ping(ctx).Err()
	}); err != nil {
		c.Close()
		t.Fatalf("PLAYBOOK_REDIS_CLUSTER=%s: %v", strings.Join(addrs, ","), err)
	}
	cl := &Cluster{Client: c, Prefix: prefix(), Addrs: addrs}
	t.Cleanup(func() {
		// Leave the shared cluster as it was found: scan every master.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			iter := n.Scan(ctx, 0, cl.Prefix+"*", 500).Iterator()
			for iter.Next(ctx) {
				n.Del(ctx, iter.Val())
			}
			return iter.Err()
		})
		c.Close()
	})
	return cl
}
