package embedded_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store/embedded"
)

// clock is a settable clock for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, dir string, c *clock) *embedded.DB {
	t.Helper()
	opts := embedded.Options{SweepEvery: -1}
	if c != nil {
		opts.Now = c.Now
	}
	db, err := embedded.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestKeyOrderAndRoundTrip(t *testing.T) {
	keys := [][]byte{
		embedded.K("c", "a", int64(-5)),
		embedded.K("c", "a", int64(3)),
		embedded.K("c", "a", int64(20)),
		embedded.K("c", "a\x00b"),
		embedded.K("c", "ab"),
		embedded.K("c", "b", uint64(1)),
	}
	sorted := append([][]byte(nil), keys...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	for i := range keys {
		if !bytes.Equal(keys[i], sorted[i]) {
			t.Fatalf("key %d out of order: %q", i, sorted)
		}
	}
	parts, err := embedded.SplitKey(embedded.K("x\x00y", int64(-7), uint64(9)))
	if err != nil || parts[0] != "x\x00y" || parts[1] != int64(-7) || parts[2] != uint64(9) {
		t.Fatalf("split = %v %v", parts, err)
	}
	if bytes.HasPrefix(embedded.K("c", "abc"), embedded.K("c", "ab")) {
		t.Fatal("K(c, ab) is a prefix of K(c, abc)")
	}
	if _, err := embedded.SplitKey([]byte{0x02, 'a'}); err == nil {
		t.Fatal("a truncated key decoded")
	}
}

func TestSecondOpenIsRefusedWithTheDirectory(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir, nil)
	_, err := embedded.Open(dir, embedded.Options{})
	if !errors.Is(err, embedded.ErrLocked) || !strings.Contains(err.Error(), db.Dir()) {
		t.Fatalf("second open: %v, want ErrLocked naming %s", err, db.Dir())
	}
	db.Close()
	again := open(t, dir, nil)
	again.Close()
}

func TestTransactionsPersistAndRollBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir, nil)
	if err := db.Update(ctx, func(tx *embedded.Tx) error {
		return tx.Put(embedded.K("k", "1"), []byte("one"))
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := db.Update(ctx, func(tx *embedded.Tx) error {
		if err := tx.Put(embedded.K("k", "2"), []byte("two")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("update = %v", err)
	}
	if err := db.Update(ctx, func(tx *embedded.Tx) error {
		return tx.Put([]byte{0, 'x'}, nil)
	}); err == nil {
		t.Fatal("a key in the DB's own space was accepted")
	}
	db.Close()
	db = open(t, dir, nil)
	err := db.View(ctx, func(tx *embedded.Tx) error {
		v, ok, err := tx.Get(embedded.K("k", "1"))
		if err != nil || !ok || string(v) != "one" {
			t.Errorf("after reopen: %q %v %v", v, ok, err)
		}
		if ok, _ := tx.Has(embedded.K("k", "2")); ok {
			t.Error("a rolled-back write is stored")
		}
		if err := tx.Put(embedded.K("k", "3"), nil); err == nil {
			t.Error("a write in View succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestExpiryAndSweep(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db := open(t, t.TempDir(), c)
	err := db.Update(ctx, func(tx *embedded.Tx) error {
		for i, ttl := range []time.Duration{time.Second, time.Minute, 0} {
			k := embedded.K("p", int64(i))
			if ttl == 0 {
				if err := tx.Put(k, []byte("forever")); err != nil {
					return err
				}
				continue
			}
			if err := tx.PutTTL(k, []byte("x"), ttl); err != nil {
				return err
			}
		}
		// Renewed: key 0 now lives a minute; its old index entry is stale.
		_, err := tx.Expire(embedded.K("p", int64(0)), tx.Now().Add(time.Hour))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	count := func() int {
		n := 0
		_ = db.View(ctx, func(tx *embedded.Tx) error { n, _ = tx.Count(embedded.K("p")); return nil })
		return n
	}
	c.Add(2 * time.Minute)
	if n := count(); n != 2 {
		t.Fatalf("%d live keys after 2 minutes, want 2 (key 1 expired)", n)
	}
	if n, err := db.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep deleted %d (%v), want 1", n, err)
	}
	c.Add(time.Hour)
	if n, err := db.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("second sweep deleted %d (%v), want 1", n, err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d keys left, want the one without expiry", n)
	}
}

func TestBusDeliversAfterCommitOnly(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	l, err := db.Bus().Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Subscribe(ctx, "ch"); err != nil {
		t.Fatal(err)
	}
	_ = db.Update(ctx, func(tx *embedded.Tx) error {
		tx.Publish("ch", "rolled back")
		return errors.New("no")
	})
	_ = db.Update(ctx, func(tx *embedded.Tx) error {
		tx.Publish("other", "not followed")
		tx.Publish("ch", "committed")
		return nil
	})
	select {
	case m := <-l.Messages():
		if m.Payload != "committed" {
			t.Fatalf("got %+v, want the committed message", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no message")
	}
}

// TestRenewedKeyLeavesNoIndexBehind: renewing a key's expiry many times
// (as every turn renews its session) keeps one expiry index entry, so the
// sweep has one entry to look at, not one per renewal.
func TestRenewedKeyLeavesNoIndexBehind(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	db := open(t, t.TempDir(), c)
	for range 100 {
		c.Add(time.Second)
		if err := db.Update(ctx, func(tx *embedded.Tx) error {
			return tx.PutTTL(embedded.K("s", "x"), []byte("v"), time.Minute)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(ctx, func(tx *embedded.Tx) error {
		if err := tx.PutTTL(embedded.K("s", "gone"), []byte("v"), time.Minute); err != nil {
			return err
		}
		return tx.Delete(embedded.K("s", "gone"))
	}); err != nil {
		t.Fatal(err)
	}
	if n := embedded.ExpiryIndexLen(db); n != 1 {
		t.Fatalf("%d expiry index entries, want 1", n)
	}
	c.Add(2 * time.Minute)
	if n, err := db.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep deleted %d (%v), want 1", n, err)
	}
	if n := embedded.ExpiryIndexLen(db); n != 0 {
		t.Fatalf("%d expiry index entries after the sweep, want 0", n)
	}
}

// TestSweepMovesTheIndexEntryOfARenewedKey: a renewal leaves the key's
// expiry index entry where it was (no index write per turn); the sweep
// that reaches it keeps the key, which has not expired, and moves the
// entry to its expiry; entries of keys deleted or made lasting after a
// renewal are dropped; a key whose expiry is brought forward expires then.
func TestSweepMovesTheIndexEntryOfARenewedKey(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	db := open(t, t.TempDir(), c)
	update := func(fn func(tx *embedded.Tx) error) {
		t.Helper()
		if err := db.Update(ctx, fn); err != nil {
			t.Fatal(err)
		}
	}
	renewed, lasting, deleted, sooner := embedded.K("s", "renewed"), embedded.K("s", "lasting"), embedded.K("s", "deleted"), embedded.K("s", "sooner")
	update(func(tx *embedded.Tx) error {
		for _, k := range [][]byte{renewed, lasting, deleted, sooner} {
			if err := tx.PutTTL(k, []byte("v"), time.Minute); err != nil {
				return err
			}
		}
		return nil
	})
	c.Add(30 * time.Second)
	update(func(tx *embedded.Tx) error {
		for _, k := range [][]byte{renewed, lasting, deleted} {
			if err := tx.PutTTL(k, []byte("v2"), time.Minute); err != nil {
				return err
			}
		}
		if err := tx.Put(lasting, []byte("v3")); err != nil {
			return err
		}
		if err := tx.PutTTL(sooner, []byte("v2"), 10*time.Second); err != nil {
			return err
		}
		return tx.Delete(deleted)
	})
	// The first four entries stay where they were; sooner has a second,
	// earlier one.
	m := t0.Add(time.Minute)
	want := []time.Time{t0.Add(40 * time.Second), m, m, m, m}
	if got := embedded.ExpiryIndexTimes(db); !slices.Equal(got, want) {
		t.Fatalf("index entries at %v, want %v (the renewals wrote none)", got, want)
	}
	get := func(k []byte) string {
		var v []byte
		_ = db.View(ctx, func(tx *embedded.Tx) error { v, _, _ = tx.Get(k); return nil })
		return string(v)
	}
	c.Add(40 * time.Second) // t0+70s
	if n, err := db.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep at t0+70s deleted %d (%v), want 1 (sooner)", n, err)
	}
	if r, l, s := get(renewed), get(lasting), get(sooner); r != "v2" || l != "v3" || s != "" {
		t.Fatalf("after the sweep at t0+70s: renewed %q, lasting %q, sooner %q; want v2, v3 and gone", r, l, s)
	}
	if got, want := embedded.ExpiryIndexTimes(db), []time.Time{t0.Add(90 * time.Second)}; !slices.Equal(got, want) {
		t.Fatalf("index entries at %v, want %v (the renewed key's, moved to its expiry)", got, want)
	}
	c.Add(20 * time.Second) // t0+90s
	if n, err := db.Sweep(ctx); err != nil || n != 1 || get(renewed) != "" || get(lasting) != "v3" {
		t.Fatalf("sweep at t0+90s deleted %d (%v), renewed %q, lasting %q; want the renewed key gone", n, err, get(renewed), get(lasting))
	}
	if n := embedded.ExpiryIndexLen(db); n != 0 {
		t.Fatalf("%d expiry index entries left, want 0", n)
	}
}
