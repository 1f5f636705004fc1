package embedded_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

// waitFor polls cond (a guard against hangs, not a pause: it returns as
// soon as cond holds).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Updates that wait while a commit is under way share the next
// transaction; one that fails has its own writes undone (an overwrite, a
// delete and new keys, one put without a lookup), and the others' writes
// (some put without a lookup) and messages commit. Its
// function runs once: none is run again because another failed.
func TestGroupCommitUndoesOnlyTheFailedCall(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	if err := db.Update(ctx, func(tx *embedded.Tx) error {
		if err := tx.Put(embedded.K("k", "kept"), []byte("before")); err != nil {
			return err
		}
		return tx.Put(embedded.K("k", "gone"), []byte("before"))
	}); err != nil {
		t.Fatal(err)
	}
	l, err := db.Bus().Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Subscribe(ctx, "ch"); err != nil {
		t.Fatal(err)
	}

	// A first Update holds the commit while the others queue up behind it.
	hold, held := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(ctx, func(tx *embedded.Tx) error {
			close(held)
			<-hold
			return tx.Put(embedded.K("first"), []byte("1"))
		})
	}()
	<-held
	boom := errors.New("boom")
	runs := make([]int, 5)
	errs := make(chan error, len(runs))
	for i := range runs {
		go func() {
			errs <- db.Update(ctx, func(tx *embedded.Tx) error {
				runs[i]++
				put := tx.Put
				if i%2 == 1 { // a key known to be new, without a lookup
					put = func(k, v []byte) error { return embedded.PutNew(tx, k, v) }
				}
				if err := put(embedded.K("n", i), []byte(fmt.Sprint(i))); err != nil {
					return err
				}
				if i != 2 {
					tx.Publish("ch", fmt.Sprint(i))
					return nil
				}
				tx.Publish("ch", "never")
				if err := tx.Put(embedded.K("k", "kept"), []byte("changed")); err != nil {
					return err
				}
				if err := tx.Delete(embedded.K("k", "gone")); err != nil {
					return err
				}
				if err := embedded.PutNew(tx, embedded.K("k", "new"), []byte("x")); err != nil {
					return err
				}
				return boom
			})
		}()
	}
	waitFor(t, "the five updates to queue", func() bool { return embedded.Waiting(db) == len(runs) })
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	failed := 0
	for range runs {
		if err := <-errs; errors.Is(err, boom) {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed != 1 {
		t.Fatalf("%d updates failed, want 1", failed)
	}
	for i, n := range runs {
		if n != 1 {
			t.Fatalf("update %d ran %d times, want once", i, n)
		}
	}
	err = db.View(ctx, func(tx *embedded.Tx) error {
		for i := range runs {
			_, ok, err := tx.Get(embedded.K("n", i))
			if err != nil {
				return err
			}
			if ok != (i != 2) {
				return fmt.Errorf("key n/%d present = %v", i, ok)
			}
		}
		if v, _, _ := tx.Get(embedded.K("k", "kept")); string(v) != "before" {
			return fmt.Errorf("k/kept = %q, want the value before the failed update", v)
		}
		if ok, _ := tx.Has(embedded.K("k", "gone")); !ok {
			return errors.New("k/gone was deleted by the failed update")
		}
		if ok, _ := tx.Has(embedded.K("k", "new")); ok {
			return errors.New("k/new, a new key of the failed update, was kept")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < len(runs)-1 {
		m := <-l.Messages()
		got[m.Payload] = true
	}
	if got["never"] {
		t.Fatal("the failed update's message was delivered")
	}
}

// A panic in a function of a shared commit reaches its own caller, and
// undoes only its writes.
func TestGroupCommitPanicReachesItsCaller(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	hold, held := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(ctx, func(tx *embedded.Tx) error {
			close(held)
			<-hold
			return tx.Put(embedded.K("first"), []byte("1"))
		})
	}()
	<-held
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		_ = db.Update(ctx, func(tx *embedded.Tx) error {
			_ = tx.Put(embedded.K("p"), []byte("x"))
			panic("oops")
		})
	}()
	waitFor(t, "the panicking update to queue", func() bool { return embedded.Waiting(db) == 1 })
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if p := <-panicked; p != "oops" {
		t.Fatalf("recovered %v, want oops", p)
	}
	err := db.View(ctx, func(tx *embedded.Tx) error {
		if ok, _ := tx.Has(embedded.K("first")); !ok {
			return errors.New("the first update did not commit")
		}
		if ok, _ := tx.Has(embedded.K("p")); ok {
			return errors.New("the panicking update's write committed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A turn publishes its entries in the form it stored them (each entry
// encoded once): store.EncodeEntries's lines, the compact form the Redis
// transcript keeps, which store.DecodeLive reads back to the entries.
func TestCommitPublishesTheEncodedEntries(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	s := embedded.NewSessions(db, store.SessionOptions{})
	l, err := db.Bus().Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Subscribe(ctx, s.Channel("c1")); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	// A new conversation is not published (nobody follows it yet): its
	// first turn is.
	created, err := s.Create(ctx, &engine.Session{ID: "c1", Playbook: "p"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Commit(ctx, "c1", created.Version, &engine.Session{ID: "c1", Playbook: "p"}, "", []store.Entry{
		{From: "visitor", Kind: "message", Text: "hi <there> \"x\"\n", ClientID: "m1", At: at},
		{From: "bot", Kind: "message", Text: "Hello", Buttons: []engine.Button{{Label: "A", Value: "a"}}, Data: map[string]any{"k": 1.5}, At: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, err := store.EncodeEntries(res.Entries)
	if err != nil {
		t.Fatal(err)
	}
	m := <-l.Messages()
	if m.Payload != string(want) {
		t.Fatalf("published\n%s\nwant\n%s", m.Payload, want)
	}
	got, err := store.DecodeLive(m.Payload)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(res.Entries) {
		t.Fatalf("published entries decode to %v (%v), want %v", got, err, res.Entries)
	}
}

// A caller that led a commit returns once its own commit is done: the
// calls that arrived meanwhile are committed by one of them, so a turn
// never waits for the commits of later ones.
func TestGroupCommitLeaderDoesNotWaitForLaterCommits(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	held := make(chan struct{})
	hold := make(chan struct{})
	a := make(chan error, 1)
	go func() {
		a <- db.Update(ctx, func(tx *embedded.Tx) error {
			close(held)
			<-hold
			return tx.Put(embedded.K("a"), []byte("1"))
		})
	}()
	<-held
	inB, releaseB := make(chan struct{}), make(chan struct{})
	b := make(chan error, 1)
	go func() {
		b <- db.Update(ctx, func(tx *embedded.Tx) error {
			close(inB)
			<-releaseB
			return tx.Put(embedded.K("b"), []byte("1"))
		})
	}()
	waitFor(t, "the second update to queue", func() bool { return embedded.Waiting(db) == 1 })
	close(hold)
	select {
	case err := <-a:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(releaseB)
		t.Fatal("the first update did not return while a later commit was under way")
	}
	<-inB
	close(releaseB)
	if err := <-b; err != nil {
		t.Fatal(err)
	}
}

// A commit waits for a fuller batch only when the process is busy
// (goroutines ready to run, the runtime says; here the test says), and
// then until as many calls wait as the last commit held, woken by the last
// to arrive, not by the delay. When nothing else is ready to run it
// commits at once whatever the last batch held: at a light load the wait
// would only add to a turn's latency (a handoff is two commits in a row).
// The delay is an hour, so a wait that is not cut short hangs.
func TestGroupCommitWaitsOnlyWhenBusy(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), embedded.Options{SweepEvery: -1, MaxBatchDelay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var busy atomic.Bool
	embedded.SetBusy(db, busy.Load)
	ctx := context.Background()
	// put starts an update of key k whose function waits for release
	// (nil: none) and reports on its channel.
	put := func(k string, entered chan<- struct{}, release <-chan struct{}) <-chan error {
		done := make(chan error, 1)
		go func() {
			done <- db.Update(ctx, func(tx *embedded.Tx) error {
				if entered != nil {
					close(entered)
				}
				if release != nil {
					<-release
				}
				return tx.Put(embedded.K(k), []byte("1"))
			})
		}()
		return done
	}
	wait := func(what string, done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not commit (a commit waiting for a fuller batch?)", what)
		}
	}

	// a alone, b and c queued behind it share the next commit: the last
	// commit held two.
	aIn, aGo := make(chan struct{}), make(chan struct{})
	a := put("a", aIn, aGo)
	<-aIn
	b := put("b", nil, nil)
	waitFor(t, "b to queue", func() bool { return embedded.Waiting(db) == 1 })
	c := put("c", nil, nil)
	waitFor(t, "c to queue", func() bool { return embedded.Waiting(db) == 2 })
	close(aGo)
	wait("a", a)
	wait("b", b)
	wait("c", c)

	// Not busy: d commits alone at once.
	wait("d", put("d", nil, nil))
	// The last commit held one: e commits alone at once, busy or not.
	busy.Store(true)
	wait("e", put("e", nil, nil))
	if n := embedded.BatchWaits(db); n != 0 {
		t.Fatalf("commits that waited for a fuller batch: %d, want 0", n)
	}

	// Again a commit of two (f and g), then busy: h waits for a second
	// call, and i's arrival ends the wait.
	busy.Store(false)
	fIn, fGo := make(chan struct{}), make(chan struct{})
	f := put("f", fIn, fGo)
	<-fIn
	g := put("g", nil, nil)
	waitFor(t, "g to queue", func() bool { return embedded.Waiting(db) == 1 })
	g2 := put("g2", nil, nil)
	waitFor(t, "g2 to queue", func() bool { return embedded.Waiting(db) == 2 })
	close(fGo)
	wait("f", f)
	wait("g", g)
	wait("g2", g2)
	busy.Store(true)
	h := put("h", nil, nil)
	waitFor(t, "h's commit to wait for a fuller batch", func() bool { return embedded.BatchWaits(db) == 1 })
	i := put("i", nil, nil)
	wait("h", h)
	wait("i", i)
}

// A counter that the calls of one group commit add to (the funnel's rows,
// which every turn's fold adds to) is looked up once and written once in
// the commit, whatever the number of calls; a call that fails adds
// nothing, and a call's own writes stay as they were.
func TestGroupCommitWritesACounterOnce(t *testing.T) {
	db, _ := newDB(t)
	ctx := context.Background()
	key := embedded.K("fnr", "d", "n")
	if err := db.Update(ctx, func(tx *embedded.Tx) error { return embedded.AddCounter(tx, key, 1000) }); err != nil {
		t.Fatal(err)
	}
	stop := embedded.CountKey(db, key)
	hold, held := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(ctx, func(tx *embedded.Tx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-held
	boom := errors.New("boom")
	const calls = 5
	errs := make(chan error, calls)
	for i := range calls {
		go func() {
			errs <- db.Update(ctx, func(tx *embedded.Tx) error {
				if err := embedded.AddCounter(tx, key, int64(1)<<i); err != nil {
					return err
				}
				if err := tx.Put(embedded.K("n", i), []byte("x")); err != nil {
					return err
				}
				if i == 2 {
					return boom
				}
				if i == 4 { // twice in one call
					return embedded.AddCounter(tx, key, 100)
				}
				return nil
			})
		}()
	}
	waitFor(t, "the calls to queue", func() bool { return embedded.Waiting(db) == calls })
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range calls {
		if err := <-errs; err != nil && !errors.Is(err, boom) {
			t.Fatal(err)
		}
	}
	gets, sets := stop()
	if gets != 1 || sets != 1 {
		t.Errorf("the counter was looked up %d times and written %d times in a commit of %d calls, want once each", gets, sets, calls)
	}
	if err := db.View(ctx, func(tx *embedded.Tx) error {
		v, _, err := tx.Get(key)
		if err != nil {
			return err
		}
		// 1000 before; 1+2+8+16 from the calls that succeeded, 100 more
		// from the last; the failed call's 4 dropped.
		if got, want := int64(binary.BigEndian.Uint64(v)), int64(1000+1+2+8+16+100); got != want {
			t.Errorf("counter = %d, want %d", got, want)
		}
		if ok, _ := tx.Has(embedded.K("n", 2)); ok {
			return errors.New("the failed call's write was kept")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
