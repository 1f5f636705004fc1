// Package redistest gives tests a Redis to talk to: the real server named by
// PLAYBOOK_REDIS_URL (what CI sets), or else an in-process miniredis. With
// CI=true and no PLAYBOOK_REDIS_URL it fails the test loudly, so CI can
// never pass on the fake by accident.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
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

// Real reports whether tests run against a real Redis.
func Real() bool { return os.Getenv("PLAYBOOK_REDIS_URL") != "" }

// New returns a Redis for t, closed when t ends.
func New(t testing.TB) *Server {
	t.Helper()
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
