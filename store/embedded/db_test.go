package embedded_test

import (
	"bytes"
	"context"
	"errors"
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
