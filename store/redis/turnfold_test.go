package redis_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// foldingStore is a Store as serve makes it (every turn with entries
// marked, but a turn whose fold goes with it only when it leaves other
// work, here none), its funnel rollup and the record of what its client
// sends.
func foldingStore(t *testing.T, srv *redistest.Server) (*redisstore.Store, *redisstore.Funnels, *recorder) {
	t.Helper()
	c := goredis.NewClient(srv.Client.Options())
	t.Cleanup(func() { c.Close() })
	rec := &recorder{}
	c.AddHook(rec)
	st := redisstore.New(c, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour,
		Pending:       func(e []redisstore.Entry) bool { return len(e) > 0 },
		PendingFolded: func([]redisstore.Entry) bool { return false }})
	return st, redisstore.NewFunnels(c, srv.Prefix), rec
}

// TestTurnFoldedIsOneCommand (issue 13): on one Redis node a turn's
// funnel fold is written by the turn script itself, and so is a new
// conversation's pending mark: an ordinary turn sends one EVALSHA and
// nothing else (no fold script after it, no ZADD of a mark before its
// ZREM), counts each fact once (a repeated client message id and a try
// that lost the race fold nothing) and leaves no mark.
func TestTurnFoldedIsOneCommand(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	st, f, rec := foldingStore(t, srv)
	if !st.FoldsTurns(f) {
		t.Fatal("FoldsTurns = false on one node")
	}
	if other := redisstore.NewFunnels(srv.Client, srv.Prefix); st.FoldsTurns(other) {
		t.Fatal("FoldsTurns = true for the rollup of another client")
	}
	key := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v1"}
	t0 := time.Unix(1800000000, 0)
	fact := func(name string, at time.Time) store.FunnelFact {
		return store.FunnelFact{Name: name, Counter: name, At: at}
	}
	// The script is loaded once (NOSCRIPT, then EVAL): not counted.
	if _, err := st.CreateFolded(ctx, &engine.Session{ID: "warm"}, []redisstore.Entry{bot("hi")}, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.take()

	created, err := st.CreateFolded(ctx, &engine.Session{ID: "c1"}, []redisstore.Entry{bot("hi")},
		&store.FunnelFold{Key: key, Facts: []store.FunnelFact{fact("started", t0), fact("asked|hello", t0)}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) {
		t.Errorf("a folded start sent %v, want one evalsha (its mark and its fold in it)", got)
	}
	if created.Pending == "" {
		t.Error("a new conversation is not marked pending (Create marks it: its inbox record is work)")
	}
	answer := func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
		sess.Turn++
		at := t0.Add(400 * time.Millisecond)
		return sess, []redisstore.Entry{bot("and your email?")}, &store.FunnelFold{Key: key, Facts: []store.FunnelFact{
			{Name: "answered|hello", Counter: "answered|hello", At: at, Since: "asked|hello", Timing: "time|hello"},
			fact("asked|email", at)}}, nil
	}
	r, err := st.TurnFolded(ctx, "c1", "m1", time.Hour, answer)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) {
		t.Errorf("an ordinary folded turn sent %v, want one evalsha", got)
	}
	if r.Pending != "" {
		t.Errorf("an ordinary folded turn is marked pending (%q): nothing is left to do", r.Pending)
	}
	// The same client message again: answered from the transcript, folded
	// no more.
	if dup, err := st.TurnFolded(ctx, "c1", "m1", time.Hour, answer); err != nil || !dup.Duplicate || dup.Pending != "" {
		t.Fatalf("repeated client id: %+v %v", dup, err)
	}
	// Another process turns the conversation: this one's cached version
	// is stale, its first try stores and folds nothing, its second both.
	other, _, _ := foldingStore(t, srv)
	if _, err := other.Turn(ctx, "c1", "x", count); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TurnFolded(ctx, "c1", "m2", time.Hour, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
		return sess, []redisstore.Entry{bot("thanks")}, &store.FunnelFold{Key: key, Facts: []store.FunnelFact{fact("reached|thanks", t0.Add(time.Second))}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"started": 1, "asked|hello": 1, "answered|hello": 1, "time|hello|" + store.FunnelBucket(400): 1, "asked|email": 1, "reached|thanks": 1}
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("counters %v, want %v", got, want)
	}
	// The marks: the two creates' (warm and c1) and the other process's
	// unfolded turn.
	if n, err := st.PendingCount(ctx); err != nil || n != 3 {
		t.Errorf("%d pending marks (%v), want 3: the creates' and the unfolded turn's", n, err)
	}
}

// TestTurnFoldedNotOnACluster: on a Redis Cluster the rollup's shards are
// in other slots than the conversation: the store does not fold in the
// turn, the caller folds after it.
func TestTurnFoldedNotOnACluster(t *testing.T) {
	cl := redistest.NewCluster(t)
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { rdb.Close() })
	st := redisstore.New(rdb, redisstore.Options{Prefix: cl.Prefix})
	if st.FoldsTurns(redisstore.NewFunnels(rdb, cl.Prefix)) {
		t.Fatal("FoldsTurns = true on a Cluster")
	}
}
