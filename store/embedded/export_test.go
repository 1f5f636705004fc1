package embedded

import (
	"context"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// ExpiryIndexLen is how many expiry index entries db holds.
func ExpiryIndexLen(db *DB) int {
	n := 0
	_ = db.View(context.Background(), func(tx *Tx) error {
		return tx.t.scan(expIndex, PrefixEnd(expIndex), false, func(_, _ []byte) (bool, error) { n++; return true, nil })
	})
	return n
}

// Waiting is how many Update and Batch calls wait for the next commit.
func Waiting(db *DB) int {
	db.bmu.Lock()
	defer db.bmu.Unlock()
	return len(db.pending)
}

// ExpiryIndexTimes are the times of db's expiry index entries, in order.
func ExpiryIndexTimes(db *DB) []time.Time {
	var out []time.Time
	_ = db.View(context.Background(), func(tx *Tx) error {
		return tx.t.scan(expIndex, PrefixEnd(expIndex), false, func(k, _ []byte) (bool, error) {
			out = append(out, time.Unix(0, int64(binary.BigEndian.Uint64(k[len(expIndex):]))).UTC())
			return true, nil
		})
	})
	return out
}

// PutNew is tx.putNew: Put for a key known not to exist.
func PutNew(tx *Tx, key, val []byte) error { return tx.putNew(key, val) }

// Reads counts the read transactions of db (Sessions.Load's among them).
func Reads(db *DB) int64 { return db.reads.Load() }

// BatchWaits is how many commits of db waited for a fuller batch.
func BatchWaits(db *DB) int {
	db.bmu.Lock()
	defer db.bmu.Unlock()
	return db.waits
}

// SetBusy makes db ask busy, instead of the runtime, whether the process
// is busy enough for a commit to wait for a fuller batch.
func SetBusy(db *DB, busy func() bool) {
	db.bmu.Lock()
	defer db.bmu.Unlock()
	db.waitWhen = busy
}

// AddCounter is tx.addCounter: a counter added to once per commit.
func AddCounter(tx *Tx, key []byte, delta int64) error { return tx.addCounter(key, delta) }

// CountKey counts the lookups and writes of key in db's write
// transactions until stop is called, which returns them.
func CountKey(db *DB, key []byte) (stop func() (gets, sets int)) {
	c := &keyCounts{key: string(key)}
	inner := db.kv
	db.kv = keyCountKV{kv: inner, c: c}
	return func() (int, int) {
		db.kv = inner
		return int(c.gets.Load()), int(c.sets.Load())
	}
}

type keyCounts struct {
	key        string
	gets, sets atomic.Int64
}

type keyCountKV struct {
	kv
	c *keyCounts
}

func (k keyCountKV) update(fn func(kvTx) error) error {
	return k.kv.update(func(t kvTx) error { return fn(keyCountTx{kvTx: t, c: k.c}) })
}

type keyCountTx struct {
	kvTx
	c *keyCounts
}

func (t keyCountTx) get(k []byte) ([]byte, error) {
	if string(k) == t.c.key {
		t.c.gets.Add(1)
	}
	return t.kvTx.get(k)
}

func (t keyCountTx) set(k, v []byte) error {
	if string(k) == t.c.key {
		t.c.sets.Add(1)
	}
	return t.kvTx.set(k, v)
}

// RunBatch commits fns in one group commit (as Batch would, had they all
// waited for the same commit) and returns each call's error.
func RunBatch(db *DB, fns ...func(*Tx) error) []error {
	batch := make([]*batchCall, len(fns))
	for i, fn := range fns {
		batch[i] = &batchCall{fn: fn, done: make(chan batchDone, 1)}
	}
	db.runBatch(batch)
	errs := make([]error, len(fns))
	for i, c := range batch {
		errs[i] = (<-c.done).err
	}
	return errs
}

// CountPages counts db's commits and the pages they write (bbolt's own
// count of its page writes, the meta page included) until stop is
// called, which returns them.
func CountPages(db *DB) (stop func() (commits, pages int64)) {
	var c pageCounts
	inner := db.kv
	db.kv = pageCountKV{kv: inner, c: &c}
	return func() (int64, int64) {
		db.kv = inner
		return c.commits.Load(), c.pages.Load()
	}
}

type pageCounts struct{ commits, pages atomic.Int64 }

type pageCountKV struct {
	kv
	c *pageCounts
}

func (k pageCountKV) update(fn func(kvTx) error) error {
	return k.kv.update(func(t kvTx) error {
		if bt, ok := t.(*boltTx); ok {
			tx := bt.b.Tx()
			tx.OnCommit(func() {
				k.c.commits.Add(1)
				st := tx.Stats()
				k.c.pages.Add(st.GetWrite())
			})
		}
		return fn(t)
	})
}
