package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestTurnAllocations: an ordinary turn of serve's on one Redis node (the
// session from the cache, the answer and the next question stored, the
// funnel's four counters in the same EVALSHA) costs the client few
// allocations besides go-redis's own reading of the reply: the script's
// keys and string arguments go to go-redis by pointer, not boxed one by
// one, and the session's JSON is appended to a reused buffer
// (docs/benchmarks.md, "serve's allocations per turn (issue 13,
// eighth round)"). Counted on a real Redis only: the in-process
// miniredis's own allocations would count too.
func TestTurnAllocations(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "a Redis in another process (the count is the client's)")
	ctx := context.Background()
	st := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour})
	if err := redisstore.LoadScripts(ctx, srv.Client); err != nil {
		t.Fatal(err)
	}
	id := "01JDQ4ZC8N8W2V3T5K7Y9A1B3C"
	sess := benchSession(id)
	sess.Funnel = &engine.FunnelCounted{}
	if _, err := st.Create(ctx, sess, benchEntries("")[1:]); err != nil {
		t.Fatal(err)
	}
	key := store.FunnelKey{Day: "2026-11-22", Playbook: "qualify", Version: sess.Version}
	n := 0
	turn := func() {
		n++
		cid := "m" + strconv.Itoa(n)
		if _, err := st.TurnFolded(ctx, id, cid, time.Hour, func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
			sess.Turn++
			return sess, benchEntries(cid), &store.FunnelFold{Conv: id, Key: key, Counted: true, Facts: []store.FunnelFact{
				{Counter: "answered|email"}, {Counter: "time|email|2000"}, {Counter: "reached|size"}, {Counter: "asked|size"}}}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for range 20 {
		turn()
	}
	allocs := testing.AllocsPerRun(200, turn)
	t.Logf("%.1f allocations a turn", allocs)
	// 73 before on main at 69746b4 (each key, string and number argument
	// boxed, by go-redis too, and the keys made one by one), 53 after;
	// under the race detector, which adds allocations of its own, 80 and
	// 59. 46 (50) since the session's JSON is written by hand into a
	// reused buffer (appendSession; encoding/json's reflection before);
	// 43 (46-47) since the cache keeps the session the step returned instead
	// of a copy of it (SessionCache.Keep); 41 (44) since a Counted fold's
	// keys are made in one allocation (countedKeys: no facts key, no row
	// id), 40 (44) since the conversation's channel is made in the same
	// string as its keys (keysAndChannel), 38 (41) since a script's call
	// that did not fail is checked for NOSCRIPT with no allocation, 35
	// (39) since the session's and the entries' JSON go by pointer too,
	// 34 since the turn's fold for the script is made on the stack
	// (inTurn writes it into the caller's variable), 33 since each funnel
	// shard keeps its last row's key (countedKeys: rowKeyIn).
	ceiling := 33.0
	if race.Enabled {
		ceiling = 39
	}
	if allocs > ceiling {
		t.Errorf("a turn allocates %.1f times, want at most %v", allocs, ceiling)
	}
}

// TestTurnWithReadsAllocations: a turn whose step asks for the
// conversation's inbox record (store.TurnReads: read in the turn's own
// pipeline, after the script) costs no more than TestTurnAllocations's
// turn, the read's commands and their replies: the pipeline is one the
// store keeps, not a new one a turn (docs/benchmarks.md, "serve's own
// turn path, the twelfth round").
func TestTurnWithReadsAllocations(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "a Redis in another process (the count is the client's)")
	ctx := context.Background()
	st := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour})
	if err := redisstore.LoadScripts(ctx, srv.Client); err != nil {
		t.Fatal(err)
	}
	id := "01JDQ4ZC8N8W2V3T5K7Y9A1B3D"
	if _, err := st.Create(ctx, benchSession(id), benchEntries("")[1:]); err != nil {
		t.Fatal(err)
	}
	var reads store.TurnReads
	n := 0
	turn := func() {
		n++
		cid := "m" + strconv.Itoa(n)
		reads.Reset()
		rctx := store.WithTurnReads(ctx, &reads)
		if _, err := st.Turn(rctx, id, cid, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			sess.Turn++
			reads.Inbox = true
			return sess, benchEntries(cid), nil
		}); err != nil {
			t.Fatal(err)
		}
		if !reads.Read {
			t.Fatal("the inbox record was not read with the turn")
		}
	}
	for range 20 {
		turn()
	}
	allocs := testing.AllocsPerRun(200, turn)
	t.Logf("%.1f allocations a turn", allocs)
	// 44 before (a new go-redis pipeline a turn: the pipeline and three
	// functions bound to it), 40 after.
	ceiling := 40.0
	if race.Enabled {
		ceiling = 50
	}
	if allocs > ceiling {
		t.Errorf("a turn allocates %.1f times, want at most %v", allocs, ceiling)
	}
}
