package redis_test

import (
	"context"
	"maps"
	"math/rand/v2"
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
	if !st.FoldsTurns(f, "c1") {
		t.Fatal("FoldsTurns = false on one node")
	}
	if other := redisstore.NewFunnels(srv.Client, srv.Prefix); st.FoldsTurns(other, "c1") {
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

// placedID returns an id the Store places (PlaceID), made of random
// letters as conversation.NewIDAt's, and one it refuses.
func placedID(t *testing.T, st *redisstore.Store) (placed, refused string) {
	t.Helper()
	for placed == "" || refused == "" {
		b := make([]byte, 26)
		for i := range b {
			b[i] = "234567abcdefghijklmnopqrstuvwxyz"[rand.IntN(32)]
		}
		if id, ok := st.PlaceID(b); ok {
			placed = id
		} else {
			refused = string(b)
		}
	}
	return placed, refused
}

// TestTurnFoldedOnACluster (issue 13): on a Redis Cluster a placed id's
// funnel shard and pending set are in the conversation's own slot, so its
// turn script folds and marks as on one node: an ordinary turn is one
// EVALSHA (no fold after it, no mark), a start too (its mark, for the
// inbox record, in it); each fact is counted once; the sweep claims the
// marks of every set. A conversation whose id was
// made before ids were placed folds after its turns, as before, into the
// shard it folded into until then.
func TestTurnFoldedOnACluster(t *testing.T) {
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { rdb.Close() })
	rec := &recorder{}
	rdb.AddHook(rec)
	st := redisstore.New(rdb, redisstore.Options{Prefix: cl.Prefix, TTL: time.Hour,
		Pending:       func(e []redisstore.Entry) bool { return len(e) > 0 },
		PendingFolded: func([]redisstore.Entry) bool { return false }})
	f := redisstore.NewFunnels(rdb, cl.Prefix)
	placed, refused := placedID(t, st)
	old := refused // an id as made before: no placed mark
	if !st.FoldsTurns(f, placed) {
		t.Fatalf("FoldsTurns(%s) = false for a placed id", placed)
	}
	if st.FoldsTurns(f, old) || st.FoldsTurns(f, refused+"1") {
		t.Fatal("FoldsTurns = true for an id that is not placed")
	}
	// This package's slots are the Cluster's.
	for _, tag := range []string{"c:" + placed, "c:" + old, "fn:0", "fn:17"} {
		want, err := rdb.ClusterKeySlot(ctx, tag).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := redisstore.Slot(tag); int64(got) != want {
			t.Errorf("Slot(%q) = %d, CLUSTER KEYSLOT %d", tag, got, want)
		}
	}
	if err := redisstore.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	rec.take()

	key := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v1"}
	t0 := time.Unix(1800000000, 0)
	fact := func(name string, at time.Time) store.FunnelFact {
		return store.FunnelFact{Name: name, Counter: name, At: at}
	}
	created, err := st.CreateFolded(ctx, &engine.Session{ID: placed}, []redisstore.Entry{bot("hi")},
		&store.FunnelFold{Key: key, Facts: []store.FunnelFact{fact("started", t0), fact("asked|hello", t0)}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) {
		t.Errorf("a folded start sent %v, want one evalsha (its fold and its mark in it)", got)
	}
	if created.Pending == "" {
		t.Error("a new conversation is not marked pending")
	}
	answer := func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
		sess.Turn++
		at := t0.Add(400 * time.Millisecond)
		return sess, []redisstore.Entry{bot("and your email?")}, &store.FunnelFold{Key: key, Facts: []store.FunnelFact{
			{Name: "answered|hello", Counter: "answered|hello", At: at, Since: "asked|hello", Timing: "time|hello"},
			fact("asked|email", at)}}, nil
	}
	r, err := st.TurnFolded(ctx, placed, "m1", time.Hour, answer)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) {
		t.Errorf("an ordinary folded turn sent %v, want one evalsha", got)
	}
	if r.Pending != "" {
		t.Errorf("an ordinary folded turn is marked pending (%q)", r.Pending)
	}
	if dup, err := st.TurnFolded(ctx, placed, "m1", time.Hour, answer); err != nil || !dup.Duplicate || dup.Pending != "" {
		t.Fatalf("repeated client id: %+v %v", dup, err)
	}

	// The old id: its turn marked, its fold after it clears the mark.
	if _, err := st.Create(ctx, &engine.Session{ID: old}, []redisstore.Entry{bot("hi")}); err != nil {
		t.Fatal(err)
	}
	if err := f.Fold(ctx, old, key, []store.FunnelFact{fact("started", t0)}, time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	ro, err := st.Turn(ctx, old, "m1", count)
	if err != nil {
		t.Fatal(err)
	}
	if ro.Pending == "" {
		t.Fatal("a turn of an old id is not marked pending for its fold")
	}
	for range 2 { // the fold again (a redo): counted once
		if err := f.Fold(ctx, old, key, []store.FunnelFact{fact("started", t0), fact("asked|email", t0)}, time.Hour, ro.Pending); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{"started": 2, "asked|hello": 1, "answered|hello": 1, "time|hello|" + store.FunnelBucket(400): 1, "asked|email": 2}
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("counters %v, want %v", got, want)
	}
	// The marks: the two creates', the placed one's in its slot's set;
	// a sweep claims both, and Done clears them.
	if n, err := st.PendingCount(ctx); err != nil || n != 2 {
		t.Errorf("%d pending marks (%v), want 2: the creates'", n, err)
	}
	later := time.Now().Add(time.Minute)
	one, err := st.ClaimPending(ctx, later, later.Add(time.Hour), 1)
	if err != nil || len(one) != 1 {
		t.Fatalf("claimed %v (%v), want 1 mark of 2", one, err)
	}
	// The other was claimed from its set too, and given its time back.
	other, err := st.ClaimPending(ctx, later, later.Add(time.Hour), 10)
	if err != nil || len(other) != 1 || other[0] == one[0] {
		t.Fatalf("claimed %v (%v) after %v, want the other mark", other, err, one)
	}
	claimed := append(one, other...)
	var convs []string
	for _, p := range claimed {
		convs = append(convs, p.Conversation)
	}
	if slices.Sort(convs); !slices.Equal(convs, slices.Sorted(slices.Values([]string{placed, old}))) {
		t.Errorf("claimed %v, want the marks of %s and %s", claimed, placed, old)
	}
	if claimed, err := st.ClaimPending(ctx, later, later, 10); err != nil || len(claimed) != 0 {
		t.Errorf("claimed again at once: %v %v", claimed, err)
	}
	if err := st.DoneMany(ctx, []string{claimed[0].Mark, claimed[1].Mark}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.PendingCount(ctx); err != nil || n != 0 {
		t.Errorf("%d pending marks (%v) after DoneMany, want 0", n, err)
	}
}
