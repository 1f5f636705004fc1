package redis

import (
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestPingLoadsEveryScript: once an engine finds Redis ready, every script
// of the package is on every master, so no script's first call there
// fails with NOSCRIPT and goes again whole (a round trip more).
func TestPingLoadsEveryScript(t *testing.T) {
	if len(scripts.all) < 20 {
		t.Fatalf("%d scripts registered, want every script of the package", len(scripts.all))
	}
	ctx := context.Background()
	missing := func(t *testing.T, c goredis.Cmdable) int {
		hashes := make([]string, len(scripts.all))
		for i, s := range scripts.all {
			hashes[i] = s.Hash()
		}
		found, err := c.ScriptExists(ctx, hashes...).Result()
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ok := range found {
			if !ok {
				n++
			}
		}
		return n
	}
	t.Run("one node", func(t *testing.T) {
		// A real Redis (Ping checks its version; miniredis has no INFO
		// server). Other tests may have loaded some scripts there before.
		rds := redistest.New(t)
		if !redistest.Real() {
			t.Skip("needs a real Redis (PLAYBOOK_REDIS_URL)")
		}
		opt, err := goredis.ParseURL(rds.URL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := goredis.NewClient(opt)
		t.Cleanup(func() { rdb.Close() })
		if err := NewEngine(rdb, "pb:").Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if n := missing(t, rdb); n != 0 {
			t.Errorf("%d of %d scripts not loaded after Ping", n, len(scripts.all))
		}
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.NewCluster(t) // skips under -short, or without a cluster
		if err := NewEngine(cl.Client, cl.Prefix).Ping(ctx); err != nil {
			t.Fatal(err)
		}
		err := cl.Client.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			if k := missing(t, n); k != 0 {
				t.Errorf("master %s: %d of %d scripts not loaded after Ping", n.Options().Addr, k, len(scripts.all))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// TestIsNoScriptAllocations: a script's call that did not fail is checked
// for NOSCRIPT with no allocation (boxing goredis.ErrNoScript for
// errors.Is and goredis.HasErrorPrefix's errors.As target were two each
// call, every turn); a NOSCRIPT error is still found.
func TestIsNoScriptAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	if n := testing.AllocsPerRun(100, func() { isNoScript(nil) }); n != 0 {
		t.Errorf("%v allocations to check a call that did not fail, want 0", n)
	}
	for _, err := range []error{goredis.ErrNoScript, fmt.Errorf("eval: %w", goredis.ErrNoScript)} {
		if !isNoScript(err) {
			t.Errorf("isNoScript(%v) = false", err)
		}
	}
	if isNoScript(errors.New("NOSCRIPT, but not from Redis")) {
		t.Error("an error not from Redis is NOSCRIPT")
	}
}

// TestBoxedScriptSendsWhatItsHashNames: a boxed script sent whole (EVAL,
// after a node answered NOSCRIPT: a restarted or promoted node) sends the
// source its hash is of, so that Redis caches it under that hash and the
// next call's EVALSHA finds it; a source that differs from the hash's
// would be sent whole on every call there.
func TestBoxedScriptSendsWhatItsHashNames(t *testing.T) {
	for name, b := range map[string]*boxedScript{"turn": turnScript, "apply": applyScript} {
		if sum := fmt.Sprintf("%x", sha1.Sum([]byte(b.src))); sum != b.sha {
			t.Errorf("the %s script's source sent whole hashes to %s, its EVALSHA names %s", name, sum, b.sha)
		}
	}
}
