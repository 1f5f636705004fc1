package redis_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestSweepClaimsInOneScriptOnOneNode (issue 13, tenth round): the
// recovery sweep (ClaimPending, every process every 5 s) reads every
// pending set, pb:pending and the 256 placed shards' (a Cluster's placed
// ids): a claim script each, 257 EVALSHAs and 257 ZRANGEs a sweep. On one
// node it is one EVALSHA that claims in pb:pending, and in the shards'
// sets only when one exists (one EXISTS of them all): there, ids are not
// placed (conversation ids never end in the placed mark), and a shard's
// set has a mark only for an id made elsewhere. Such a mark is counted
// and claimed all the same. PendingCount (/debug/vars, the pending marks
// gauge at each scrape: 257 ZCARDs) reads them the same way: one ZCARD
// and one EXISTS.
func TestSweepClaimsInOneScriptOnOneNode(t *testing.T) {
	ctx, rdb, p := monitoredRedis(t)
	st := redisstore.New(rdb, redisstore.Options{Prefix: p, TTL: time.Hour})
	at := time.UnixMilli(1_700_000_000_000)
	st2 := redisstore.New(rdb, redisstore.Options{Prefix: p, TTL: time.Hour, Now: func() time.Time { return at }})
	// A placed-looking id (its set is a shard's).
	placed := ""
	for i := 0; placed == ""; i++ {
		if id := fmt.Sprintf("c%d1", i); redisstore.PlacedShardOf(id) >= 0 {
			placed = id
		}
	}
	for _, m := range []string{"a1|n1", "a2|n2"} {
		if err := st2.Mark(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// count runs f and returns the commands it made Redis run, by name.
	count := func(f func()) []string {
		mon := startMonitor(t, rdb.Options().Addr, p)
		f()
		end := p + "end"
		if err := rdb.Get(ctx, end).Err(); err != nil && err != goredis.Nil {
			t.Fatal(err)
		}
		var names []string
		for _, cmd := range mon.until(t, "GET", end) {
			names = append(names, strings.ToUpper(cmd[0]))
		}
		mon.conn.Close()
		return names
	}
	var n int64
	var err error
	got := count(func() { n, err = st.PendingCount(ctx) })
	if err != nil || n != 2 {
		t.Fatalf("PendingCount = %d, %v; want 2", n, err)
	}
	if want := []string{"EVALSHA", "ZCARD", "EXISTS"}; !slices.Equal(got, want) {
		t.Errorf("PendingCount ran %q; want %q", got, want)
	}
	later := at.Add(time.Minute)
	var claimed []redisstore.Pending
	got = count(func() { claimed, err = st.ClaimPending(ctx, later, later.Add(time.Second), 1) })
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimPending(1) = %v, %v", claimed, err)
	}
	// The script: ZRANGE (at most n), a ZADD each mark claimed, EXISTS.
	if want := []string{"EVALSHA", "ZRANGE", "ZADD", "EXISTS"}; !slices.Equal(got, want) {
		t.Errorf("a sweep's claim ran %q; want %q", got, want)
	}
	// A mark in a shard's set is counted and claimed all the same, with
	// the one left, and not the one claimed (made new).
	if err := st2.Mark(ctx, placed+"|n3"); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PendingCount(ctx); err != nil || n != 3 {
		t.Fatalf("PendingCount = %d, %v; want 3", n, err)
	}
	rest, err := st.ClaimPending(ctx, later, later.Add(2*time.Second), 10)
	if err != nil || len(rest) != 2 {
		t.Fatalf("the next claim: %v, %v; want two", rest, err)
	}
	all := []string{claimed[0].Mark, rest[0].Mark, rest[1].Mark}
	slices.Sort(all)
	if want := []string{"a1|n1", "a2|n2", placed + "|n3"}; !slices.Equal(all, want) {
		t.Errorf("claimed %q, want %q", all, want)
	}
}
