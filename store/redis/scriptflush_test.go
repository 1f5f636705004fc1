package redis_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// evalCounter counts the scripts a client sends whole (EVAL).
type evalCounter struct{ n atomic.Int64 }

func (c *evalCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (c *evalCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		c.count(cmd)
		return next(ctx, cmd)
	}
}
func (c *evalCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		for _, cmd := range cmds {
			c.count(cmd)
		}
		return next(ctx, cmds)
	}
}
func (c *evalCounter) count(cmd goredis.Cmder) {
	if cmd.Name() == "eval" {
		c.n.Add(1)
	}
}

// TestTurnsAfterAScriptFlushGoByHashAgain: a node that lost its scripts
// (restarted, or a replica promoted) answers the next turn's EVALSHA
// with NOSCRIPT; the turn is sent whole once, and the turns after it go
// by hash again, not whole every turn.
func TestTurnsAfterAScriptFlushGoByHashAgain(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "SCRIPT FLUSH")
	opt, err := goredis.ParseURL(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := goredis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	evals := &evalCounter{}
	rdb.AddHook(evals)
	ctx := context.Background()
	st := redisstore.New(rdb, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour})
	id := "01JDQ4ZC8N8W2V3T5K7Y9A1B3D"
	if _, err := st.Create(ctx, benchSession(id), benchEntries("")[1:]); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	before := evals.n.Load()
	const turns = 10
	for i := range turns {
		cid := "m" + strconv.Itoa(i)
		if _, err := st.Turn(ctx, id, cid, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			sess.Turn++
			return sess, benchEntries(cid), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Once; twice at most when another package's test flushes the
	// scripts of the Redis the tests share meanwhile.
	if n := evals.n.Load() - before; n < 1 || n > 2 {
		t.Fatalf("%d turns after SCRIPT FLUSH sent the turn script whole %d times, want once (then by hash)", turns, n)
	}
}
