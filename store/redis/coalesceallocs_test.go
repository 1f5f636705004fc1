package redis_test

import (
	"context"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/race"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// answerAll answers every command and pipeline itself, OK, without a
// connection: a hook after the Coalescer, so that what is counted is the
// Coalescer's own work and go-redis's command.
type answerAll struct{}

func (answerAll) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (answerAll) ProcessHook(goredis.ProcessHook) goredis.ProcessHook {
	return func(context.Context, goredis.Cmder) error { return nil }
}
func (answerAll) ProcessPipelineHook(goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(context.Context, []goredis.Cmder) error { return nil }
}

// TestCoalescedCommandAllocations: a command through the Coalescer (a
// lone caller, which sends its own batch) costs no allocation of the
// Coalescer's but the list its batch's pipeline copies: its item, with
// the channel its caller waits on, and the batch's pipeline are reused
// from command to command (docs/benchmarks.md, "serve's own turn path,
// the twelfth round").
func TestCoalescedCommandAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	rdb := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer rdb.Close()
	co := redisstore.Coalesce(rdb, redisstore.CoalesceOptions{})
	defer co.Close()
	rdb.AddHook(answerAll{})
	// The turn's context: one that can be cancelled, as a turn's is.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	call := func() {
		if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	call()
	alone := testing.AllocsPerRun(100, call)
	t.Logf("%.1f allocations a command through the Coalescer", alone)
	// 10 before: the command's (3, the same without the Coalescer), the
	// batch's pipeline's (5: the pipeline, three functions bound to it,
	// its list), and the item with its channel (2); 8 with the item
	// pooled, 4 with the pipeline kept too (its list, copied once).
	if alone > 4 {
		t.Errorf("a command through the Coalescer allocates %.1f times, want at most 4", alone)
	}
}
