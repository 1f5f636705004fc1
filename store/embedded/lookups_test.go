package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// countingTx counts the lookups (get) a transaction makes.
type countingTx struct {
	kvTx
	gets int
}

func (c *countingTx) get(k []byte) ([]byte, error) {
	c.gets++
	return c.kvTx.get(k)
}

// countingKV counts the lookups of its write transactions.
type countingKV struct {
	kv
	gets *int
}

func (c countingKV) update(fn func(kvTx) error) error {
	return c.kv.update(func(t kvTx) error {
		ct := &countingTx{kvTx: t}
		err := fn(ct)
		*c.gets += ct.gets
		return err
	})
}

// A write that needs a key's stored record (a counter, an expiry kept, a
// renewal, a conversation's funnel facts, a CRM record compared before it
// is replaced, a feed entry, an idempotency key, an inbox record) looks
// the key up once, not once to read it and again to replace it: each
// lookup is a B-tree search in a commit.
func TestWritesLookUpTheirKeyOnce(t *testing.T) {
	db, err := Open(t.TempDir(), Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	// lookups runs fn on a transaction that counts its lookups.
	lookups := func(fn func(tx *Tx) error) int {
		t.Helper()
		var n int
		if err := db.Update(ctx, func(tx *Tx) error {
			c := &countingTx{kvTx: tx.t}
			tx.t = c
			err := fn(tx)
			n = c.gets
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	key := K("k")
	cases := []struct {
		name string
		fn   func(tx *Tx) error
	}{
		{"Incr of a new counter", func(tx *Tx) error { _, err := tx.Incr(key, 1); return err }},
		{"Incr", func(tx *Tx) error { _, err := tx.Incr(key, 2); return err }},
		{"Expire", func(tx *Tx) error { _, err := tx.Expire(key, tx.Now().Add(time.Hour)); return err }},
		{"PutKeepingExpiry", func(tx *Tx) error { return tx.PutKeepingExpiry(key, i64(7)) }},
	}
	for _, c := range cases {
		if n := lookups(c.fn); n != 1 {
			t.Errorf("%s: %d lookups, want 1", c.name, n)
		}
	}
	if err := db.View(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(key)
		at, _, _ := tx.ExpiresAt(key)
		if err != nil || !ok || readI64(v) != 7 || at.IsZero() {
			t.Errorf("after the writes: %d, %v, expiring %v, %v; want 7 with the expiry kept", readI64(v), ok, at, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// A CRM change with an idempotency key, a record and a feed entry:
	// each of the three keys looked up once, and the feed's time key
	// (new) once.
	crm := NewCRM(db)
	var n int
	ch := &store.CRMChange{Key: "create-1", Done: "r1",
		Records: []store.CAS{{Name: "r1", New: `{"id":"r1"}`}},
		Feeds:   []store.FeedAdd{{Owner: "p1", Member: "chat-1", Ms: 1}}}
	db.kv = countingKV{kv: db.kv, gets: &n}
	_, err = crm.Apply(ctx, ch)
	db.kv = db.kv.(countingKV).kv
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("CRM change: %d lookups, want 4: its key, the record, the feed's member and its time key", n)
	}

	// An inbox record changed (its labels, a visitor's details): read and
	// written back with one lookup.
	in := NewInbox(db)
	if err := in.Start(ctx, &store.Conversation{ID: "conv-1", Status: store.StatusOpen, StartedAt: time.Now()}, time.Hour); err != nil {
		t.Fatal(err)
	}
	n = 0
	db.kv = countingKV{kv: db.kv, gets: &n}
	err = in.SetLabels(ctx, "conv-1", []string{"vip"})
	db.kv = db.kv.(countingKV).kv
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("inbox record changed: %d lookups, want 1", n)
	}
	if c, err := in.Conversation(ctx, "conv-1"); err != nil || len(c.Labels) != 1 {
		t.Errorf("after SetLabels: %+v, %v", c, err)
	}

	// A fold of two facts of one conversation: its facts record read once
	// (and written), each of the two counters looked up once.
	fk := store.FunnelKey{Day: "2026-12-04", Playbook: "p", Version: "v"}
	for i, conv := range []string{"c1", "c1"} { // new, then stored facts
		fold := []store.FunnelFold{{Conv: conv, Key: fk, Facts: []store.FunnelFact{
			{Name: "started" + string(rune('a'+i)), Counter: "started" + string(rune('a'+i)), At: time.Now()},
			{Name: "email" + string(rune('a'+i)), Counter: "email" + string(rune('a'+i)), At: time.Now()},
		}}}
		errs := make([]error, 1)
		if n := lookups(func(tx *Tx) error { return foldAll(tx, fold, time.Hour, errs) }); n != 3 || errs[0] != nil {
			t.Errorf("fold %d: %d lookups (%v), want 3: the facts and two counters", i, n, errs[0])
		}
	}
}
