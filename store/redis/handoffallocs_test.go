package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestHandOffAllocations (issue 13, twelfth round) holds the client's
// allocations of the bench mix's handoff on one node
// (BenchmarkHandOffRedis's: the visitor's email, the bot's last message,
// the wait timer, the new-chat notice built from the record read with the
// turn). The record the notice is built from is decoded once, its visitor
// read once, and its empty fields (labels, previous) not handed to
// encoding/json; the script's arguments are not boxed one by one (docs/benchmarks.md, "A lead's and a handoff's own CPU
// (issue 13, twelfth round)"). Counted on a real Redis only: the
// in-process miniredis's own allocations would count too.
func TestHandOffAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	srv := redistest.New(t)
	srv.NeedsReal(t, "a Redis in another process (the count is the client's)")
	ctx := context.Background()
	rdb := goredis.NewClient(srv.Client.Options())
	t.Cleanup(func() { rdb.Close() })
	inbox := redisstore.NewInbox(rdb, srv.Prefix)
	at := time.Now()
	const runs = 100
	ids := make([]string, runs+11)
	before := make([]map[string]string, len(ids))
	for i := range ids {
		ids[i] = "allocs-" + strconv.Itoa(i)
		c := &store.Conversation{ID: ids[i], Status: store.StatusBot, Playbook: "qualify", Labels: []string{},
			Visitor: store.Visitor{ID: "visitor-" + strconv.Itoa(i), Page: "/bench"}, StartedAt: at, UpdatedAt: at}
		if err := inbox.Start(ctx, c, time.Hour); err != nil {
			t.Fatal(err)
		}
		f, err := rdb.HGetAll(ctx, srv.Prefix+"{c:"+ids[i]+"}:meta").Result()
		if err != nil {
			t.Fatal(err)
		}
		before[i] = f
	}
	// The notice as the service builds it costs the same before and
	// after; a fixed payload keeps the count to the store's own work.
	build := func(c *store.Conversation) (string, error) { return `{"type":"notify"}`, nil }
	n := 0
	handOff := func() {
		id := ids[n]
		h := store.Handoff{Team: "sales", Card: "sales", Visitor: store.Visitor{ID: "visitor-" + strconv.Itoa(n), Email: "visitor@acme.com", Page: "/bench"},
			Last:   &store.Last{From: "bot", Text: "Connecting you to sales...", At: at},
			Timers: []store.Timer{{ID: id + ":6:sales:0", At: at.Add(2 * time.Minute)}},
			Notice: &store.HandoffNotice{Channel: srv.Prefix + "inbox", Before: before[n], Build: build}}
		n++
		c, _, err := inbox.HandOff(ctx, id, h, at, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if !c.NoticeSent || c.Visitor.Email != "visitor@acme.com" || c.Visitor.Page != "/bench" || c.Labels == nil || c.Previous != nil {
			t.Fatalf("the record after the handoff: %+v", c)
		}
	}
	for range 10 {
		handOff()
	}
	allocs := testing.AllocsPerRun(runs, handOff)
	t.Logf("%.1f allocations a handoff", allocs)
	// 106 before (the record's visitor decoded twice and its last message
	// decoded back from the JSON just written, labels and previous given
	// to encoding/json empty, the record's map and the arguments grown),
	// 76 after; 63 since the script's string and number arguments go to
	// go-redis by pointer into one struct (handOffArgs), not boxed one by
	// one.
	const ceiling = 64
	if allocs > ceiling {
		t.Errorf("a handoff allocates %.1f times, want at most %v", allocs, ceiling)
	}
}
