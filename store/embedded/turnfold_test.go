package embedded_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/storetest"
)

func botSays(text string) store.Entry { return store.Entry{From: "bot", Kind: "message", Text: text} }

// serveOptions are serve's session options for these tests: every turn
// with entries marked, a folded one only when it leaves other work (here
// none).
var serveOptions = store.SessionOptions{TTL: time.Hour,
	Pending:       func(e []store.Entry) bool { return len(e) > 0 },
	PendingFolded: func([]store.Entry) bool { return false }}

// oneCommitFixture opens a DB whose commits rec counts, its Sessions with
// serveOptions, and another DB.
func oneCommitFixture(t *testing.T) (db, other *embedded.DB, rec *trips, st store.SessionStore) {
	t.Helper()
	rec = &trips{}
	var err error
	if db, err = embedded.Open(t.TempDir(), embedded.Options{Observer: rec, SweepEvery: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if other, err = embedded.Open(t.TempDir(), embedded.Options{SweepEvery: -1}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	return db, other, rec, embedded.NewSessions(db, serveOptions)
}

// TestTurnFoldedIsOneCommit (issue 13): the embedded engine writes a
// turn's funnel fold in the turn's own commit, as the Redis engine's turn
// script does on one node: an ordinary turn (serve's options: every turn
// with entries marked, a folded one only when it leaves other work, here
// none) is one commit and leaves no pending mark; a start is one commit
// and stays marked; a repeated client message id and a try that lost the
// race fold nothing, so each fact counts once.
func TestTurnFoldedIsOneCommit(t *testing.T) {
	ctx := context.Background()
	db, other, rec, st := oneCommitFixture(t)
	tf, ok := st.(store.TurnFolds)
	if !ok {
		t.Fatal("the embedded Sessions are not a store.TurnFolds")
	}
	f := embedded.NewEngine(db).Funnels()
	if !tf.FoldsTurns(f, "c") {
		t.Fatal("FoldsTurns = false for the rollup of the same DB")
	}
	if tf.FoldsTurns(embedded.NewFunnels(other), "c") {
		t.Fatal("FoldsTurns = true for the rollup of another DB")
	}
	key := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v1"}
	t0 := time.Unix(1800000000, 0)
	fact := func(name string, at time.Time) store.FunnelFact {
		return store.FunnelFact{Name: name, Counter: name, At: at}
	}
	rec.take()

	created, err := tf.CreateFolded(ctx, &engine.Session{ID: "c1"}, []store.Entry{botSays("hi")},
		&store.FunnelFold{Key: key, Facts: []store.FunnelFact{fact("started", t0), fact("asked|hello", t0)}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.take(); !slices.Equal(got, []string{"commit"}) {
		t.Errorf("a folded start made round trips %v, want one commit (its mark and its fold in it)", got)
	}
	if created.Pending == "" {
		t.Error("a new conversation is not marked pending (Create marks it: its inbox record is work)")
	}
	if err := st.(store.PendingMarks).Done(ctx, created.Pending); err != nil {
		t.Fatal(err)
	}
	rec.take()
	answer := func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
		sess.Turn++
		at := t0.Add(400 * time.Millisecond)
		return sess, []store.Entry{botSays("and your email?")}, &store.FunnelFold{Key: key, Facts: []store.FunnelFact{
			{Name: "answered|hello", Counter: "answered|hello", At: at, Since: "asked|hello", Timing: "time|hello"},
			fact("asked|email", at)}}, nil
	}
	r, err := tf.TurnFolded(ctx, "c1", "m1", time.Hour, answer)
	if err != nil {
		t.Fatal(err)
	}
	// The session was cached by the start: no read, one commit.
	if got := rec.take(); !slices.Equal(got, []string{"commit"}) {
		t.Errorf("an ordinary folded turn made round trips %v, want one commit", got)
	}
	if r.Pending != "" {
		t.Errorf("an ordinary folded turn is marked pending (%q): nothing is left to do", r.Pending)
	}
	marks := st.(store.PendingMarks)
	if n, err := marks.PendingCount(ctx); err != nil || n != 0 {
		t.Errorf("%d pending marks after an ordinary folded turn (%v), want 0", n, err)
	}
	want := map[string]int64{"started": 1, "asked|hello": 1, "answered|hello": 1, "time|hello|" + store.FunnelBucket(400): 1, "asked|email": 1}
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("after the turn's own commit: counters %v, want %v", got, want)
	}
	// The same client message again: answered from the transcript, folded
	// no more, marked no more.
	if dup, err := tf.TurnFolded(ctx, "c1", "m1", time.Hour, answer); err != nil || !dup.Duplicate || dup.Pending != "" {
		t.Fatalf("repeated client id: %+v %v", dup, err)
	}
	// Another store of the DB (another cache) turns the conversation:
	// this one's cached version is stale, its first try stores and folds
	// nothing, its second both.
	otherStore := embedded.NewSessions(db, serveOptions)
	if _, err := otherStore.Turn(ctx, "c1", "x", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		sess.Turn++
		return sess, []store.Entry{botSays("elsewhere")}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.TurnFolded(ctx, "c1", "m2", time.Hour, func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
		return sess, []store.Entry{botSays("thanks")}, &store.FunnelFold{Key: key, Facts: []store.FunnelFact{fact("reached|thanks", t0.Add(time.Second)), fact("asked|email", t0)}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	want["reached|thanks"] = 1
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("counters %v, want %v", got, want)
	}
	// The one mark: the other store's unfolded turn.
	if n, err := marks.PendingCount(ctx); err != nil || n != 1 {
		t.Errorf("%d pending marks (%v), want 1: the unfolded turn's", n, err)
	}
}

// TestTurnFoldedMarksWhatLeavesWork: a folded turn that leaves other work
// (PendingFolded) is marked in its commit, as an unfolded one is.
func TestTurnFoldedMarksWhatLeavesWork(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	st := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour,
		Pending: func(e []store.Entry) bool { return len(e) > 0 },
		PendingFolded: func(e []store.Entry) bool {
			return slices.ContainsFunc(e, func(e store.Entry) bool { return e.Kind == "record" })
		}})
	key := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v1"}
	if _, err := st.CreateFolded(ctx, &engine.Session{ID: "c"}, nil, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	r, err := st.TurnFolded(ctx, "c", "m", time.Hour, func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
		return sess, []store.Entry{{From: "system", Kind: "record"}}, &store.FunnelFold{Key: key, Facts: []store.FunnelFact{{Name: "x", Counter: "x", At: time.Now()}}}, nil
	})
	if err != nil || r.Pending == "" {
		t.Fatalf("a folded turn that leaves work: %+v %v, want a mark", r, err)
	}
	if n, err := st.PendingCount(ctx); err != nil || n != 1 {
		t.Errorf("%d pending marks (%v), want 1", n, err)
	}
	if got := storetest.FunnelCounters(t, embedded.NewFunnels(db)); got["x"] != 1 {
		t.Errorf("counters %v, want x: 1", got)
	}
}

// TestCreateStartedIsOneCommit (issue 13): the embedded engine writes a
// new conversation's inbox record in the conversation's own commit (as
// the Redis engine's turn script does on one node): a start is one
// commit, leaves no pending mark for its record, and names the visitor's
// earlier conversations, newest first, as Inbox.Start does.
func TestCreateStartedIsOneCommit(t *testing.T) {
	ctx := context.Background()
	db, other, rec, st := oneCommitFixture(t)
	is, ok := st.(store.InboxStarts)
	if !ok {
		t.Fatal("the embedded Sessions are not a store.InboxStarts")
	}
	in := embedded.NewEngine(db).Inbox()
	if !is.StartsInbox(in, "c") {
		t.Fatal("StartsInbox = false for the inbox of the same DB")
	}
	if is.StartsInbox(embedded.NewInbox(other), "c") {
		t.Fatal("StartsInbox = true for the inbox of another DB")
	}
	key := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada"}
	if err := in.Start(ctx, &store.Conversation{ID: "c0", Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: t0, UpdatedAt: t0}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"c0"}, {"c1", "c0"}} {
		id := "c" + string(rune('1'+i))
		at := t0.Add(time.Duration(i+1) * time.Second)
		c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: at, UpdatedAt: at}
		rec.take()
		r, err := is.CreateStarted(ctx, &engine.Session{ID: id}, []store.Entry{botSays("hi")},
			&store.FunnelFold{Key: key, Facts: []store.FunnelFact{{Name: "started", Counter: "started", At: at}}}, time.Hour, c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.take(); !slices.Equal(got, []string{"commit"}) {
			t.Errorf("%s: a start with its record made %v, want one commit", id, got)
		}
		if r.Pending != "" {
			t.Errorf("%s: marked pending (%q), want no mark: its record is written", id, r.Pending)
		}
		if !slices.Equal(c.Previous, want) {
			t.Errorf("%s: Previous %v, want %v", id, c.Previous, want)
		}
		got, err := in.Conversation(ctx, id)
		if err != nil || got.Status != store.StatusBot || got.Visitor != vis || !slices.Equal(got.Previous, want) {
			t.Errorf("%s: record %+v %v", id, got, err)
		}
	}
	if n, err := st.(store.PendingMarks).PendingCount(ctx); err != nil || n != 0 {
		t.Errorf("%d pending marks (%v), want none", n, err)
	}
	// Without its fold (the caller folds after the create) a start stays
	// marked: the fold is work left.
	at := t0.Add(time.Minute)
	unfolded := &store.Conversation{ID: "c9", Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: at, UpdatedAt: at}
	if r, err := is.CreateStarted(ctx, &engine.Session{ID: "c9"}, []store.Entry{botSays("hi")}, nil, time.Hour, unfolded, time.Hour); err != nil || r.Pending == "" {
		t.Errorf("a start without its fold: %+v %v, want it marked", r, err)
	}
}

// TestTurnFoldedCounted (issue 13): a Counted fold (the caller knew from
// the session which facts are new) adds one to each counter it names in
// the turn's commit and keeps no record of the conversation's facts; a
// repeated client message id counts nothing.
func TestTurnFoldedCounted(t *testing.T) {
	ctx := context.Background()
	db, _, _, st := oneCommitFixture(t)
	tf := st.(store.TurnFolds)
	f := embedded.NewEngine(db).Funnels()
	key := store.FunnelKey{Day: "2026-12-05", Playbook: "p", Version: "v1"}
	counted := func(counters ...string) *store.FunnelFold { return storetest.CountedFold(key, counters...) }
	if _, err := tf.CreateFolded(ctx, &engine.Session{ID: "c1"}, []store.Entry{botSays("hi")}, counted("started", "asked|hello"), time.Hour); err != nil {
		t.Fatal(err)
	}
	answer := func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
		sess.Turn++
		return sess, []store.Entry{botSays("thanks")}, counted("answered|hello", "time|hello|500"), nil
	}
	for range 2 { // the second: the same client message id
		if _, err := tf.TurnFolded(ctx, "c1", "m1", time.Hour, answer); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int64{"started": 1, "asked|hello": 1, "answered|hello": 1, "time|hello|500": 1}
	if got := storetest.FunnelCounters(t, f); !maps.Equal(got, want) {
		t.Errorf("counters %v, want %v", got, want)
	}
	err := db.View(ctx, func(tx *embedded.Tx) error {
		return tx.Scan(embedded.K("fnc"), func(k, _ []byte) (bool, error) {
			t.Errorf("the rollup keeps a conversation's facts: %q", k)
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
