package redis_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestIdlePollsRunNoScript: every serve process polls the timers (every
// 200 ms) and each outbox shard's due deliveries (every 500 ms) whether or
// not anything is due; an idle process's polls are most of what it sends.
// A poll that finds nothing due sends one plain read (a ZRANGEBYSCORE of
// one member: 0.7 µs of Redis CPU), not the claiming script (an EVALSHA:
// about 5 µs warm, 20 on an idle Redis); one that finds something still
// claims it, once.
func TestIdlePollsRunNoScript(t *testing.T) {
	rds := redistest.New(t)
	rec := &recorder{}
	c := hookedClient(t, rds.Client.Options(), "", "", rec)
	ctx := context.Background()
	timers := redisstore.New(c, redisstore.Options{Prefix: rds.Prefix}).Timers()
	ob := redisstore.NewCRM(c, rds.Prefix)
	now := time.UnixMilli(1_800_000_000_000)

	if err := timers.Set(ctx, "conv1", "t1", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if due, err := timers.Claim(ctx, now, 100); err != nil || len(due) != 0 {
		t.Fatalf("timers due before their time: %v, %v", due, err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"zrangebyscore"}) {
		t.Errorf("a timer poll with nothing due sent %v, want [zrangebyscore]", got)
	}
	due, err := timers.Claim(ctx, now.Add(time.Minute), 100)
	if err != nil || len(due) != 1 || due[0].Conversation != "conv1" || due[0].ID != "t1" {
		t.Fatalf("the timer come due: %v, %v", due, err)
	}
	if again, err := timers.Claim(ctx, now.Add(time.Hour), 100); err != nil || len(again) != 0 {
		t.Fatalf("a claimed timer claimed again: %v, %v", again, err)
	}

	rec.take()
	for n := 0; n < ob.Shards(); n++ {
		ids, err := ob.ClaimDue(ctx, n, now.UnixMilli(), now.Add(time.Minute).UnixMilli(), 16, "p/1")
		if err != nil || len(ids) != 0 {
			t.Fatalf("shard %d: deliveries due in an empty outbox: %v, %v", n, ids, err)
		}
	}
	if got := rec.take(); len(got) != ob.Shards() || slices.Contains(got, "evalsha") || slices.Contains(got, "eval") {
		t.Errorf("polling %d empty shards sent %v, want one zrangebyscore each", ob.Shards(), got)
	}
}
