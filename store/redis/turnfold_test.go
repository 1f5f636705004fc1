package redis_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	rec := &recorder{}
	c := hookedClient(t, srv.Client.Options(), "", "", rec)
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
// letters as conversation.NewIDAt's, and one it does not (without the
// placed mark: an id made before the Store placed ids).
func placedID(t *testing.T, st *redisstore.Store) (placed, refused string) {
	t.Helper()
	b := make([]byte, 26)
	for i := range b {
		b[i] = "234567abcdefghijklmnopqrstuvwxyz"[rand.IntN(32)]
	}
	placed, ok := st.PlaceID(b)
	if !ok {
		t.Fatalf("PlaceID(%q) refused", b)
	}
	return placed, string(b)
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
	// An id that ends in the placed mark but whose slot takes no placed
	// ids (refused+"1" alone lands on a placed slot one time in 64).
	marked := refused + "1"
	for i := 2; redisstore.PlacedShardOf(marked) >= 0; i++ {
		marked = refused + strconv.Itoa(i) + "1"
	}
	if st.FoldsTurns(f, old) || st.FoldsTurns(f, marked) {
		t.Fatalf("FoldsTurns = true for an id that is not placed (%s or %s)", old, marked)
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

// TestCreateStartedIsOneCommand (issue 13): on one Redis node a new
// conversation's inbox record, and its visitor's earlier conversations,
// are written by the turn script that creates it: a start sends one
// EVALSHA, leaves no pending mark for its record, and the record is the
// one Inbox.Start writes, its Previous the visitor's earlier
// conversations newest first (read before this one is added).
func TestCreateStartedIsOneCommand(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	st, _, rec := foldingStore(t, srv)
	in := redisstore.NewInbox(st.Client(), srv.Prefix)
	if !st.StartsInbox(in, "c1") {
		t.Fatal("StartsInbox = false on one node for the inbox of the same client")
	}
	// view: the inbox on another client, whose commands are not counted.
	view := redisstore.NewInbox(srv.Client, srv.Prefix)
	if st.StartsInbox(view, "c1") {
		t.Fatal("StartsInbox = true for the inbox of another client")
	}
	key := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada", Page: "/pricing"}
	record := func(id string, at time.Time, v store.Visitor) *store.Conversation {
		return &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: v, Labels: []string{}, StartedAt: at, UpdatedAt: at}
	}
	// The script is loaded once (NOSCRIPT, then EVAL): not counted. The
	// visitor's first conversation is recorded as before, by Inbox.Start.
	first := record("c0", t0, vis)
	if err := view.Start(ctx, first, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateFolded(ctx, &engine.Session{ID: "warm"}, []redisstore.Entry{bot("hi")}, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.take()

	started := func(id string, at time.Time, v store.Visitor, previous []string) *store.Conversation {
		t.Helper()
		c := record(id, at, v)
		c.Previous = previous
		r, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi"), bot("how can I help?")},
			&store.FunnelFold{Key: key, Facts: []store.FunnelFact{{Name: "started", Counter: "started", At: at}}}, time.Hour, c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) {
			t.Errorf("%s: a start with its record sent %v, want one evalsha", id, got)
		}
		checkStarted(t, ctx, view, srv.Client, srv.Prefix, id, at, v, c, r)
		return c
	}
	// A returning visitor: the record names the first conversation.
	c1 := started("c1", t0.Add(time.Second), vis, nil)
	if !slices.Equal(c1.Previous, []string{"c0"}) {
		t.Errorf("c1's Previous %v, want [c0]", c1.Previous)
	}
	// And the next one names both, newest first: c1 was added to the
	// visitor's conversations by its script.
	c2 := started("c2", t0.Add(2*time.Second), vis, nil)
	if !slices.Equal(c2.Previous, []string{"c1", "c0"}) {
		t.Errorf("c2's Previous %v, want [c1 c0]", c2.Previous)
	}
	// Inbox.Start after it finds them all too.
	c3 := record("c3", t0.Add(3*time.Second), vis)
	if err := view.Start(ctx, c3, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c3.Previous, []string{"c2", "c1", "c0"}) {
		t.Errorf("Inbox.Start after: Previous %v, want [c2 c1 c0]", c3.Previous)
	}
	// At most store.MaxPrevious are named.
	for i := 4; i < 4+store.MaxPrevious; i++ {
		started("c"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second), vis, nil)
	}
	last := started("cz", t0.Add(time.Minute), vis, nil)
	if len(last.Previous) != store.MaxPrevious || last.Previous[0] != "c"+strconv.Itoa(3+store.MaxPrevious) {
		t.Errorf("Previous %v, want the %d newest", last.Previous, store.MaxPrevious)
	}
	// A visitor with neither id nor email: Previous as given, no list.
	anon := started("ca", t0, store.Visitor{Page: "/"}, []string{"cx"})
	if !slices.Equal(anon.Previous, []string{"cx"}) {
		t.Errorf("an anonymous start's Previous %v, want [cx] as given", anon.Previous)
	}
	// The record is the one Inbox.Start writes, field for field.
	byStart := record("s1", t0, store.Visitor{ID: "v2", Email: "a@example.com"})
	byScript := record("s2", t0, store.Visitor{ID: "v3", Email: "b@example.com"})
	byStart.Team, byScript.Team = "sales", "sales"
	if err := view.Start(ctx, byStart, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateStarted(ctx, &engine.Session{ID: "s2"}, nil, nil, time.Hour, byScript, time.Hour); err != nil {
		t.Fatal(err)
	}
	a := srv.Client.HGetAll(ctx, srv.Prefix+"{c:s1}:meta").Val()
	b := srv.Client.HGetAll(ctx, srv.Prefix+"{c:s2}:meta").Val()
	if a["visitor"] == b["visitor"] || !strings.Contains(b["visitor"], "b@example.com") {
		t.Errorf("visitors %q and %q", a["visitor"], b["visitor"])
	}
	delete(a, "visitor")
	delete(b, "visitor")
	if !maps.Equal(a, b) {
		t.Errorf("the script's record %v, Inbox.Start's %v", b, a)
	}
	// A start that loses (the id exists) writes no record.
	dup := record("c1", t0, store.Visitor{ID: "v9"})
	if _, err := st.CreateStarted(ctx, &engine.Session{ID: "c1"}, nil, nil, time.Hour, dup, time.Hour); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("a second create of c1: %v, want ErrExists", err)
	}
	if got, err := view.Conversation(ctx, "c1"); err != nil || got.Visitor != vis {
		t.Errorf("c1's record after a lost create: %+v %v", got, err)
	}
	if n := srv.Client.ZCard(ctx, srv.Prefix+"visitor:v9:convs").Val(); n != 0 {
		t.Errorf("a lost create added %d conversations to its visitor's", n)
	}
	// Only the warm-up's create is marked.
	if n, err := st.PendingCount(ctx); err != nil || n != 1 {
		t.Errorf("%d pending marks (%v), want 1 (the warm-up's create)", n, err)
	}
	// Without its fold (the caller folds after the create) a start with
	// entries stays marked: the fold is work left.
	if r, err := st.CreateStarted(ctx, &engine.Session{ID: "s3"}, []redisstore.Entry{bot("hi")}, nil, time.Hour, record("s3", t0, vis), time.Hour); err != nil || r.Pending == "" {
		t.Errorf("a start without its fold: %+v %v, want it marked", r, err)
	}
}

// TestTurnFoldedCounted (issue 13): a Counted fold (the caller knew from
// the session which facts are new) adds one to each counter it names, in
// the turn script, and neither writes nor reads the conversation's facts
// hash; a repeated client message id and a stale try count nothing.
func TestTurnFoldedCounted(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	st, f, rec := foldingStore(t, srv)
	key := store.FunnelKey{Day: "2026-12-05", Playbook: "p", Version: "v1"}
	counted := func(counters ...string) *store.FunnelFold { return storetest.CountedFold(key, counters...) }
	if _, err := st.CreateFolded(ctx, &engine.Session{ID: "c1"}, []redisstore.Entry{bot("hi")}, counted("started", "asked|hello"), time.Hour); err != nil {
		t.Fatal(err)
	}
	answer := func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
		sess.Turn++
		return sess, []redisstore.Entry{bot("thanks")}, counted("answered|hello", "time|hello|500"), nil
	}
	rec.take()
	if _, err := st.TurnFolded(ctx, "c1", "m1", time.Hour, answer); err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) {
		t.Errorf("a counted turn sent %v, want one evalsha", got)
	}
	if dup, err := st.TurnFolded(ctx, "c1", "m1", time.Hour, answer); err != nil || !dup.Duplicate {
		t.Fatalf("repeated client id: %+v %v", dup, err)
	}
	// Another process turns the conversation: this one's first try is
	// stale and counts nothing, its second counts.
	other, _, _ := foldingStore(t, srv)
	if _, err := other.Turn(ctx, "c1", "x", count); err != nil {
		t.Fatal(err)
	}
	if _, err := st.TurnFolded(ctx, "c1", "m2", time.Hour, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
		return sess, []redisstore.Entry{bot("bye")}, counted("reached|bye"), nil
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"started": 1, "asked|hello": 1, "answered|hello": 1, "time|hello|500": 1, "reached|bye": 1}
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("counters %v, want %v", got, want)
	}
	facts, _, err := srv.Client.Scan(ctx, 0, srv.Prefix+"{fn:*}:c:*", 1<<20).Result()
	if err != nil || len(facts) != 0 {
		t.Errorf("facts hashes %v (%v), want none", facts, err)
	}
}

// argsRecorder keeps the arguments of every EVALSHA its client sends.
type argsRecorder struct {
	mu    sync.Mutex
	calls [][]any
}

func (r *argsRecorder) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r *argsRecorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() == "evalsha" {
			r.mu.Lock()
			r.calls = append(r.calls, slices.Clone(cmd.Args()))
			r.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}
func (r *argsRecorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestTurnFoldedCountedIsOneCounter (issue 13, eighth round): a Counted
// fold of several counters, the turn's, adds one to one field of the
// row, which names them all (one HINCRBY in the turn script, one argument
// to it, where each counter was one of each); the rollup reads each
// counter as counted once, added up with the same counter counted alone
// or in another turn's field. A fold of one counter writes it as it is.
func TestTurnFoldedCountedIsOneCounter(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	c, rec := recordedClient(t, srv)
	st := redisstore.New(c, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour})
	f := redisstore.NewFunnels(c, srv.Prefix)
	key := store.FunnelKey{Day: "2026-12-05", Playbook: "p", Version: "v1"}
	counted := func(counters ...string) *store.FunnelFold { return storetest.CountedFold(key, counters...) }
	if _, err := st.CreateFolded(ctx, &engine.Session{ID: "c1"}, []redisstore.Entry{bot("hi")}, counted("started", "reached|hello", "asked|hello"), time.Hour); err != nil {
		t.Fatal(err)
	}
	turn := func(id string, counters ...string) {
		t.Helper()
		rec.mu.Lock()
		rec.calls = nil
		rec.mu.Unlock()
		if _, err := st.TurnFolded(ctx, "c1", id, time.Hour, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
			sess.Turn++
			return sess, []redisstore.Entry{bot("next")}, counted(counters...), nil
		}); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if len(rec.calls) != 1 {
			t.Fatalf("%d EVALSHA for a turn, want 1", len(rec.calls))
		}
		// EVALSHA sha numkeys KEYS... ARGV...: the fold's counters after
		// ARGV[10] and the entry.
		args := rec.calls[0]
		nk, _ := strconv.Atoi(fmt.Sprint(args[2]))
		// Issue 13, eleventh round: no unused keys (the two cost Redis
		// about 1.2 k instructions a turn): the session, the transcript,
		// the client ids, the row and the rows; 7 before, with the
		// facts' hash twice in place of the mark's set and the facts'.
		// Thirteenth round: nor the rows, which the script makes from
		// the row's key when the row is new (about 2 k instructions a
		// turn): 4 keys.
		if nk != 4 || !strings.Contains(argText(args[3+3]), "}:r:") {
			t.Errorf("a turn with a counted fold and no mark sent %d keys (%q), want 4: the session's three and the row", nk, argTexts(args[3:3+nk]))
		}
		argv := args[3+nk:]
		// Nor the row id (ARGV[9]): the script takes it from the row's
		// key when the row is new; a counted fold sends "=" there.
		if p, ok := argv[8].(*string); !ok || *p != "=" {
			t.Errorf("ARGV[9] is %v, want \"=\": no row id", argv[8])
		}
		if got := len(argv) - 11; got != 1 {
			t.Errorf("a turn of %d counters sent %d counter arguments (%q), want 1", len(counters), got, argv[11:])
		}
	}
	turn("m1", "answered|hello", "time|hello|500", "reached|email", "asked|email")
	turn("m2", "reached|bye")
	turn("m3", "answered|email", "time|hello|500")
	rows, _, err := c.Scan(ctx, 0, srv.Prefix+"{fn:*}:r:*", 1<<20).Result()
	if err != nil || len(rows) != 1 {
		t.Fatalf("rows %q (%v), want one", rows, err)
	}
	fields, err := c.HKeys(ctx, rows[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(fields) != 4 {
		t.Errorf("the row has %d fields %q, want 4: one a turn", len(fields), fields)
	}
	want := map[string]int64{"started": 1, "reached|hello": 1, "asked|hello": 1, "answered|hello": 1, "time|hello|500": 2,
		"reached|email": 1, "asked|email": 1, "reached|bye": 1, "answered|email": 1}
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("counters %v, want %v", got, want)
	}
}

// checkStarted checks what CreateStarted returned (r, and c, the record it
// was given) for conversation id, started at at by visitor v: no pending
// mark, two entries with ids, and the record view reads (by another
// client) as c, kept up to an hour.
func checkStarted(t *testing.T, ctx context.Context, view *redisstore.Inbox, rdb goredis.UniversalClient, prefix, id string, at time.Time, v store.Visitor, c *store.Conversation, r redisstore.Result) {
	t.Helper()
	if r.Pending != "" {
		t.Errorf("%s: marked pending (%q), want no mark: its record is written", id, r.Pending)
	}
	if len(r.Entries) != 2 || r.Entries[0].ID == "" || r.Entries[1].ID == "" {
		t.Errorf("%s: entries %+v, want two with ids", id, r.Entries)
	}
	got, err := view.Conversation(ctx, id)
	if err != nil {
		t.Fatalf("%s: record: %v", id, err)
	}
	if !slices.Equal(got.Previous, c.Previous) {
		t.Errorf("%s: the stored record names %v, CreateStarted returned %v", id, got.Previous, c.Previous)
	}
	if got.Status != store.StatusBot || got.Playbook != "p" || got.Visitor != v || !got.StartedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
		t.Errorf("%s: record %+v", id, got)
	}
	if ttl := rdb.PTTL(ctx, prefix+"{c:"+id+"}:meta").Val(); ttl <= 0 || ttl > time.Hour {
		t.Errorf("%s: the record's time to live is %v, want up to an hour", id, ttl)
	}
}

// TestStartRecordArguments (issue 13, ninth round): the start's inbox
// record costs the turn script few arguments. Each argument Redis reads,
// makes an object of and Lua interns (about 600 instructions, more with
// its RESP); the record's field names are the script's own, started_at
// and updated_at one value (a start's are the same time), the number of
// earlier conversations a constant of the script. A returning visitor's
// start of the bench's kind (no team): 9 arguments for the record (the
// id, the time, the retention, status, playbook, visitor, the size of
// the visitor's list and the earlier conversations as this process last
// saw them, their count), 8 when this process has not seen the visitor
// (the size ""); 15 before the ninth round, 7 before the tenth, when the
// script read the earlier conversations instead of checking the
// process's (TestReturningStartReadsNoEarlierConversations: those two
// arguments cost Redis far less than the read). When the script reads
// them they come back as the one JSON field the record stores, not one
// reply element each. The record is still Inbox.Start's
// (TestCreateStartedIsOneCommand).
func TestStartRecordArguments(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	c, rec := recordedClient(t, srv)
	st := redisstore.New(c, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour})
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada", Page: "/pricing"}
	start := func(id string, at time.Time, team string) (*store.Conversation, []any) {
		t.Helper()
		conv := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, Team: team, Labels: []string{}, StartedAt: at, UpdatedAt: at}
		fold := storetest.CountedFold(key, "started")
		if _, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}, fold, time.Hour, conv, time.Hour); err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		last := rec.calls[len(rec.calls)-1]
		rec.calls = nil
		return conv, last
	}
	// The same start without its record: what the record adds.
	if _, err := st.CreateFolded(ctx, &engine.Session{ID: "plain"}, []redisstore.Entry{bot("hi")}, storetest.CountedFold(key, "started"), time.Hour); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	plain := len(rec.calls[len(rec.calls)-1])
	rec.calls = nil
	rec.mu.Unlock()
	for i := range store.MaxPrevious + 2 {
		conv, args := start("c"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second), "")
		// Two keys: the record and the visitor's conversations (no
		// unused ones before them since the eleventh round:
		// TestCountedStartSendsNoUnusedKeys).
		want := 9
		if i == 0 {
			want = 8 // a visitor not seen: no guess
		}
		if n := len(args) - plain - 2; n != want {
			t.Errorf("start %d: the record took %d arguments (%v), want %d", i, n, args[plain:], want)
		}
		if want := min(i, store.MaxPrevious); len(conv.Previous) != want || i > 0 && conv.Previous[0] != "c"+strconv.Itoa(i-1) {
			t.Errorf("start %d: Previous %v, want the %d newest", i, conv.Previous, want)
		}
	}
	// A team is a field more: two arguments.
	_, args := start("team", t0.Add(time.Hour), "sales")
	if n := len(args) - plain - 2; n != 11 {
		t.Errorf("a start with a team: the record took %d arguments (%v), want 11", n, args[plain:])
	}
	m := srv.Client.HGetAll(ctx, srv.Prefix+"{c:team}:meta").Val()
	if m["team"] != "sales" || m["started_at"] != stampOf(t0.Add(time.Hour)) || m["updated_at"] != m["started_at"] {
		t.Errorf("the record %v", m)
	}
}

func stampOf(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// recordedClient is a client of srv whose commands' arguments rec records.
func recordedClient(t *testing.T, srv *redistest.Server) (*goredis.Client, *argsRecorder) {
	t.Helper()
	rec := &argsRecorder{}
	return hookedClient(t, srv.Client.Options(), "", "", rec), rec
}

// TestCountedStartSendsNoUnusedKeys (issue 13, eleventh round): a start
// that writes its record with a counted fold and no mark sends no unused
// keys (two cost Redis about 1.2 k instructions a start): the session,
// the transcript, the client ids, the row, the record and the visitor's
// conversations (the rows too until the thirteenth round: the script now
// makes their key from the row's); the record and the list are stored as
// Inbox.Start stores them.
func TestCountedStartSendsNoUnusedKeys(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	c, rec := recordedClient(t, srv)
	st := redisstore.New(c, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour})
	view := redisstore.NewInbox(srv.Client, srv.Prefix)
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada"}
	var previous []string
	for _, id := range []string{"c1", "c2"} {
		rec.mu.Lock()
		rec.calls = nil
		rec.mu.Unlock()
		conv := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, StartedAt: t0, UpdatedAt: t0}
		r, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi"), bot("how can I help?")}, storetest.CountedFold(key, "started"), time.Hour, conv, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		rec.mu.Lock()
		calls := rec.calls
		rec.mu.Unlock()
		if len(calls) != 1 {
			t.Fatalf("%s: %d EVALSHA for a start, want 1", id, len(calls))
		}
		args := calls[0]
		nk, _ := strconv.Atoi(fmt.Sprint(args[2]))
		keys := make([]string, nk)
		for i := range keys {
			keys[i] = fmt.Sprint(args[3+i])
			if p, ok := args[3+i].(*string); ok {
				keys[i] = *p
			}
		}
		if nk != 6 || !strings.Contains(keys[3], ":r:") || keys[4] != srv.Prefix+"{c:"+id+"}:meta" || !strings.HasSuffix(keys[5], ":convs") {
			t.Errorf("%s: a counted start sent keys %q, want 6: the session's three, the row, the record, the visitor's (no rows: the script makes them from the row's key)", id, keys)
		}
		checkStarted(t, ctx, view, srv.Client, srv.Prefix, id, t0, vis, conv, r)
		if !slices.Equal(conv.Previous, previous) {
			t.Errorf("%s: previous %v, want %v", id, conv.Previous, previous)
		}
		previous = []string{id}
	}
	if n, err := srv.Client.ZCard(ctx, srv.Prefix+"visitor:v1:convs").Result(); err != nil || n != 2 {
		t.Errorf("the visitor's list has %d (%v), want 2", n, err)
	}
	if got := storetest.FunnelCounters(t, redisstore.NewFunnels(srv.Client, srv.Prefix)); got["started"] != 2 {
		t.Errorf("counters %v, want started 2", got)
	}
}

// TestCountedFoldRowsOfAnyPrefix (issue 13, thirteenth round): a counted
// fold sends the row's key and not the rows' (the shard's set of row ids):
// the script makes it from the row's key, up to the shard's tag's end.
// A store whose prefix holds "{fn:" (where the script could not find the
// shard's tag) sends the rows' key as before, and says so with "==" in
// ARGV[9]. Either way every shard's set of rows names its rows, and the
// rollup reads every counter.
func TestCountedFoldRowsOfAnyPrefix(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	for _, prefix := range []string{srv.Prefix, srv.Prefix + "{fn:7}:x}:"} {
		c, rec := recordedClient(t, srv)
		st := redisstore.New(c, redisstore.Options{Prefix: prefix, TTL: time.Hour})
		const convs = 40 // over several shards
		for i := range convs {
			id := "c" + strconv.Itoa(i)
			if _, err := st.CreateFolded(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}, storetest.CountedFold(key, "started"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, err := st.TurnFolded(ctx, id, "m1", time.Hour, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, *store.FunnelFold, error) {
				sess.Turn++
				return sess, []redisstore.Entry{bot("next")}, storetest.CountedFold(key, "answered|hello"), nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		rec.mu.Lock()
		last := rec.calls[len(rec.calls)-1]
		rec.mu.Unlock()
		nk, _ := strconv.Atoi(fmt.Sprint(last[2]))
		argv := last[3+nk:]
		weird := prefix != srv.Prefix
		want, mark := 4, "="
		if weird {
			want, mark = 5, "=="
		}
		if nk != want || argText(argv[8]) != mark {
			t.Errorf("prefix %q: a counted turn sent %d keys (%q) and ARGV[9] %q, want %d and %q", prefix, nk, argTexts(last[3:3+nk]), argText(argv[8]), want, mark)
		}
		f := redisstore.NewFunnels(c, prefix)
		if got, want := storetest.FunnelCounters(t, f), map[string]int64{"started": convs, "answered|hello": convs}; !maps.Equal(got, want) {
			t.Errorf("prefix %q: counters %v, want %v", prefix, got, want)
		}
		// Each row is named in its own shard's set, and nothing else is.
		rows, _, err := c.Scan(ctx, 0, prefix+"{fn:*}:r:*", 1<<20).Result()
		if err != nil || len(rows) < 2 {
			t.Fatalf("prefix %q: rows %q (%v), want several shards'", prefix, rows, err)
		}
		for _, row := range rows {
			at := strings.LastIndex(row, "}:r:")
			ids, err := c.SMembers(ctx, row[:at+2]+"rows").Result()
			if err != nil || len(ids) != 1 || ids[0] != row[at+4:] {
				t.Errorf("prefix %q: the set of rows of %q is %q (%v), want its id", prefix, row, ids, err)
			}
		}
	}
}

// argText is a recorded command's argument as text (go-redis takes some
// by pointer).
func argText(a any) string {
	if p, ok := a.(*string); ok {
		return *p
	}
	return fmt.Sprint(a)
}

// argTexts is argText of each.
func argTexts(as []any) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = argText(a)
	}
	return out
}
