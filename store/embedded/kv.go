package embedded

import (
	"bytes"
	"errors"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// kv is the small ordered key-value store the DB runs on. Writers are
// serialized by the DB; a backend only has to give atomic commits and
// consistent reads.
type kv interface {
	update(fn func(kvTx) error) error
	view(fn func(kvTx) error) error
	close() error
}

// kvTx is one transaction of a kv. Slices it hands out are valid until
// the transaction ends.
type kvTx interface {
	get(k []byte) ([]byte, error) // nil when missing
	set(k, v []byte) error
	del(k []byte) error
	// scan calls fn on the keys in [start, end) (end nil: no bound), in
	// ascending order or descending when reverse, until fn returns false.
	scan(start, end []byte, reverse bool, fn func(k, v []byte) (bool, error)) error
}

// BackendBolt is the default backend (Options.Backend): bbolt.
const BackendBolt = "bbolt"

// backends are the backends this build has (see backends_other.go).
var backends = []string{BackendBolt}

// Backends lists the backends this build can open.
func Backends() []string { return append([]string(nil), backends...) }

var bucket = []byte("pb")

type boltKV struct{ db *bolt.DB }

func openBolt(dir string, sync bool) (kv, error) {
	db, err := bolt.Open(filepath.Join(dir, "playbook.bolt"), 0o600, &bolt.Options{
		Timeout:        time.Second,
		NoSync:         !sync,
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// Growing the file (every 16 MB) would fsync it even without
		// Sync; a commit survives kill -9 without that, as every other
		// commit does. With Sync, it stays.
		NoGrowSync: !sync,
		// Nothing reads bbolt's statistics; keeping them takes a mutex
		// shared by every read transaction, at its start and its end.
		NoStatistics: true,
	})
	if err != nil {
		return nil, err
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucket)
		return err
	}); err != nil {
		db.Close()
		return nil, err
	}
	return &boltKV{db: db}, nil
}

func (b *boltKV) update(fn func(kvTx) error) error {
	return b.db.Update(func(tx *bolt.Tx) error { return fn(&boltTx{b: tx.Bucket(bucket)}) })
}

func (b *boltKV) view(fn func(kvTx) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return fn(&boltTx{b: tx.Bucket(bucket)}) })
}

func (b *boltKV) close() error { return b.db.Close() }

type boltTx struct {
	b *bolt.Bucket
	// c looks keys up (get): one cursor a transaction, whose stack of
	// pages is reused by every lookup, where Bucket.Get makes a new
	// cursor whose stack grows again, one allocation a tree level, for
	// every key. A seek starts again from the root, so writes between
	// lookups do not matter. Scans have cursors of their own (a scan's
	// callback may look keys up).
	c *bolt.Cursor
}

// get is Bucket.Get (the same seek and comparison) on the transaction's
// cursor.
func (t *boltTx) get(k []byte) ([]byte, error) {
	if t.c == nil {
		t.c = t.b.Cursor()
	}
	key, v := t.c.Seek(k)
	if !bytes.Equal(key, k) {
		return nil, nil
	}
	return v, nil
}

func (t *boltTx) set(k, v []byte) error {
	if !t.b.Writable() {
		return errReadOnly
	}
	return t.b.Put(k, v)
}
func (t *boltTx) del(k []byte) error {
	if !t.b.Writable() {
		return errReadOnly
	}
	return t.b.Delete(k)
}

func (t *boltTx) scan(start, end []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	c := t.b.Cursor()
	var k, v []byte
	if !reverse {
		if start == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(start)
		}
		for ; k != nil && (end == nil || bytes.Compare(k, end) < 0); k, v = c.Next() {
			if ok, err := fn(k, v); !ok || err != nil {
				return err
			}
		}
		return nil
	}
	if end == nil {
		k, v = c.Last()
	} else {
		k, v = c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil && (start == nil || bytes.Compare(k, start) >= 0); k, v = c.Prev() {
		if ok, err := fn(k, v); !ok || err != nil {
			return err
		}
	}
	return nil
}

var errReadOnly = errors.New("embedded: write in a read-only transaction")
