package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// oldConv is a conversation as layout 1 stored it.
type oldConv struct {
	id       string
	sess     engine.Session
	version  int64
	clientID string
	texts    []string
	ttl      time.Duration
}

// writeLayout1 writes convs the way the previous version's Sessions.Commit
// did (K("s", conv) with its expiry, K("m", conv, ms, seq),
// K("d", conv, clientID)) and removes the layout key, as in a data
// directory that version wrote. It returns the entries' ids per
// conversation.
func writeLayout1(t *testing.T, db *DB, convs []oldConv) map[string][]string {
	t.Helper()
	ids := map[string][]string{}
	err := db.Update(context.Background(), func(tx *Tx) error {
		if err := tx.t.del(layoutKey); err != nil {
			return err
		}
		ms := tx.Now().UnixMilli()
		for _, c := range convs {
			rec := sessionRecord{version: c.version, lastMs: ms, lastSeq: -1}
			for _, text := range c.texts {
				rec.lastSeq++
				data, err := json.Marshal(store.Entry{From: "bot", Kind: "message", Text: text})
				if err != nil {
					return err
				}
				if err := tx.Put(K("m", c.id, rec.lastMs, rec.lastSeq), data); err != nil {
					return err
				}
				ids[c.id] = append(ids[c.id], strconv.FormatInt(ms, 10)+"-"+strconv.FormatInt(rec.lastSeq, 10))
			}
			data, err := json.Marshal(&c.sess)
			if err != nil {
				return err
			}
			rec.data = data
			if err := tx.PutExpiring(K("s", c.id), rec.encode(), tx.Now().Add(c.ttl)); err != nil {
				return err
			}
			if c.clientID != "" {
				got := ids[c.id]
				span := got[0] + " " + got[len(got)-1]
				if err := tx.Put(K("d", c.id, c.clientID), []byte(span)); err != nil {
					return err
				}
			}
		}
		// Another domain's key, which the migration leaves alone.
		return tx.Put(K("tm", "a", "t1"), []byte("due"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// rawKeys lists every key of the store.
func rawKeys(t *testing.T, db *DB) [][]byte {
	t.Helper()
	var keys [][]byte
	err := db.kv.view(func(t kvTx) error {
		return t.scan([]byte{0}, nil, false, func(k, _ []byte) (bool, error) {
			keys = append(keys, append([]byte(nil), k...))
			return true, nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func layoutOf(t *testing.T, db *DB) uint64 {
	t.Helper()
	var v []byte
	if err := db.kv.view(func(t kvTx) error {
		b, err := t.get(layoutKey)
		v = append([]byte(nil), b...)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		return 1
	}
	return binary.BigEndian.Uint64(v)
}

func TestLayout1IsMigratedAtOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &testClock{t: time.Unix(1_800_000_000, 0)}
	opts := Options{Now: clk.Now, SweepEvery: -1}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := layoutOf(t, db); got != layoutVersion {
		t.Fatalf("a new directory has layout %d, want %d", got, layoutVersion)
	}
	convs := []oldConv{
		{id: "a", sess: engine.Session{ID: "a", Playbook: "pb", Card: 3, Locale: "en"}, version: 4, clientID: "c1", texts: []string{"hello", "how are you?"}, ttl: time.Hour},
		{id: "b", sess: engine.Session{ID: "b", Playbook: "pb", Card: 1, Locale: "fr"}, version: 1, texts: []string{"bonjour"}, ttl: time.Minute},
		{id: "a\x00b", sess: engine.Session{ID: "a\x00b", Playbook: "pb"}, version: 2, clientID: "c\x002", texts: []string{"x", "y", "z"}, ttl: time.Hour},
	}
	ids := writeLayout1(t, db, convs)
	if got := layoutOf(t, db); got != 1 {
		t.Fatalf("layout %d after writing layout 1", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	for open := 1; open <= 2; open++ { // the second Open finds layout 2: nothing to do
		db, err = Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := layoutOf(t, db); got != layoutVersion {
			t.Fatalf("open %d: layout %d, want %d", open, got, layoutVersion)
		}
		for _, k := range rawKeys(t, db) {
			for _, space := range []string{"s", "m", "d"} {
				if bytes.HasPrefix(k, K(space)) {
					t.Errorf("open %d: layout 1 key %q left", open, k)
				}
			}
		}
		if n := ExpiryIndexLen(db); n != len(convs) {
			t.Errorf("open %d: %d expiry index entries, want %d (one per session)", open, n, len(convs))
		}
		s := NewSessions(db, store.SessionOptions{TTL: time.Hour})
		for _, c := range convs {
			sess, v, err := s.Load(ctx, c.id)
			if err != nil {
				t.Fatalf("open %d: Load %q: %v", open, c.id, err)
			}
			if v != c.version || sess.ID != c.sess.ID || sess.Card != c.sess.Card || sess.Locale != c.sess.Locale {
				t.Errorf("open %d: Load %q = %+v version %d, want %+v version %d", open, c.id, sess, v, c.sess, c.version)
			}
			tr, err := s.Transcript(ctx, c.id, "", 0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range tr {
				got = append(got, e.ID+" "+e.Text)
			}
			var want []string
			for i, text := range c.texts {
				want = append(want, ids[c.id][i]+" "+text)
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("open %d: transcript of %q = %q, want %q", open, c.id, got, want)
			}
			if c.clientID != "" {
				// The answered client id is still known: a retry of it
				// is a duplicate that gets the entries it wrote.
				res, err := s.Commit(ctx, c.id, c.version, &c.sess, c.clientID, []store.Entry{{From: "bot", Kind: "message", Text: "again"}})
				if err != nil {
					t.Fatal(err)
				}
				if !res.Duplicate || len(res.Entries) != len(c.texts) || res.Entries[0].ID != ids[c.id][0] {
					t.Errorf("open %d: retry of %q's client id %q = %+v, want a duplicate of %v", open, c.id, c.clientID, res, ids[c.id])
				}
			}
		}
		var tm []byte
		if err := db.View(ctx, func(tx *Tx) error { tm, _, err = tx.Get(K("tm", "a", "t1")); return err }); err != nil || string(tm) != "due" {
			t.Errorf("open %d: another domain's key = %q, %v", open, tm, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}

	// The migrated expiry index still expires a session, and the sweep
	// deletes its conversation.
	db, err = Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewSessions(db, store.SessionOptions{TTL: time.Hour})
	clk.Add(2 * time.Minute)
	if _, err := db.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	alive, err := s.Alive(ctx, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	if !alive["a"] || alive["b"] {
		t.Errorf("after b's TTL: alive %v, want a only", alive)
	}
	for _, k := range rawKeys(t, db) {
		if bytes.HasPrefix(k, convKey("b")) {
			t.Errorf("key %q of the expired conversation b left", k)
		}
	}
}

// faultKV fails a transaction's nth write, as a crash in the middle of the
// migration would stop it.
type faultKV struct {
	kv
	n int
}

type faultTx struct {
	kvTx
	left *int
}

func (f *faultKV) update(fn func(kvTx) error) error {
	left := f.n
	return f.kv.update(func(t kvTx) error { return fn(&faultTx{t, &left}) })
}

var errFault = errors.New("fault")

func (t *faultTx) set(k, v []byte) error {
	if *t.left--; *t.left < 0 {
		return errFault
	}
	return t.kvTx.set(k, v)
}

func TestLayoutMigrationStoppedMidwayLosesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &testClock{t: time.Unix(1_800_000_000, 0)}
	opts := Options{Now: clk.Now, SweepEvery: -1}
	db, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	convs := []oldConv{
		{id: "a", sess: engine.Session{ID: "a", Card: 2}, version: 3, clientID: "c1", texts: []string{"one", "two"}, ttl: time.Hour},
		{id: "b", sess: engine.Session{ID: "b", Card: 5}, version: 7, texts: []string{"three"}, ttl: time.Hour},
	}
	writeLayout1(t, db, convs)
	before := rawKeys(t, db)
	// The migration stops at its 4th write: its transaction is not
	// committed, the directory keeps layout 1 whole.
	if err := migrateLayout(&faultKV{kv: db.kv, n: 3}); !errors.Is(err, errFault) {
		t.Fatalf("migration with a fault: %v, want the fault", err)
	}
	if got := rawKeys(t, db); len(got) != len(before) || layoutOf(t, db) != 1 {
		t.Fatalf("after the failed migration: %d keys (was %d), layout %d", len(got), len(before), layoutOf(t, db))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, opts) // and the next Open migrates it
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewSessions(db, store.SessionOptions{TTL: time.Hour})
	for _, c := range convs {
		sess, v, err := s.Load(ctx, c.id)
		if err != nil || v != c.version || sess.Card != c.sess.Card {
			t.Errorf("Load %q = %+v, %d, %v", c.id, sess, v, err)
		}
		tr, err := s.Transcript(ctx, c.id, "", 0)
		if err != nil || len(tr) != len(c.texts) {
			t.Errorf("transcript of %q: %d entries, %v; want %d", c.id, len(tr), err, len(c.texts))
		}
	}
}

func TestNewerLayoutIsRefused(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.kv.update(func(t kvTx) error {
		return t.set(layoutKey, binary.BigEndian.AppendUint64(nil, layoutVersion+1))
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if db, err := Open(dir, Options{SweepEvery: -1}); err == nil {
		db.Close()
		t.Fatal("Open of a directory with a newer layout succeeded")
	} else if !strings.Contains(err.Error(), "newer") {
		t.Errorf("error %q does not say the layout is newer", err)
	}
	// The refused Open released the directory: once the layout is one
	// this build reads, it opens.
	kv, err := openBolt(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.update(func(t kvTx) error {
		return t.set(layoutKey, binary.BigEndian.AppendUint64(nil, layoutVersion))
	}); err != nil {
		t.Fatal(err)
	}
	if err := kv.close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(dir, Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// The keys a turn builds by hand (sessions.go) are K's encoding: data
// written before (by K) is found by them, ids with a 0x00 byte included.
func TestConversationKeysAreK(t *testing.T) {
	for _, conv := range []string{"2bq5kcmlj0000a7d3xv6qyrzuy", "a\x00b", ""} {
		for _, c := range []struct{ got, want []byte }{
			{sessionKey(conv), K("c", conv, "s")},
			{doneKey(conv, "m1\x00x"), K("c", conv, "d", "m1\x00x")},
			{entryKey(conv, 1764950400123, 7), K("c", conv, "m", int64(1764950400123), int64(7))},
			{entryKey(conv, 5, -1), K("c", conv, "m", int64(5), int64(-1))},
		} {
			if !bytes.Equal(c.got, c.want) {
				t.Errorf("conversation %q: key %q, want %q", conv, c.got, c.want)
			}
		}
	}
}

// A funnel counter's key built in a reused buffer (the fold's) is K's.
func TestFunnelRowKeysAreK(t *testing.T) {
	key := store.FunnelKey{Day: "2026-11-22", Playbook: "qualify", Version: "c11e", Variant: "b\x00"}
	want := K("fnr", key.Day, key.Playbook, key.Version, key.Variant, "time|size|1-3s")
	if got := appendRowKey(nil, key, "time|size|1-3s"); !bytes.Equal(got, want) {
		t.Errorf("key %q, want %q", got, want)
	}
	if got := appendRowKey([]byte("left over"), key, "time|size|1-3s"); !bytes.Equal(got[len("left over"):], want) {
		t.Errorf("appended key %q, want %q", got, want)
	}
}
