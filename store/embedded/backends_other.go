//go:build embeddedbench

package embedded

// The other candidate backends, measured against bbolt in
// docs/benchmarks.md ("Embedded engine"). They are built only with
// -tags embeddedbench so the binary links the chosen one alone:
//
//	go test -tags embeddedbench -run Backends -bench Turn ./store/embedded/

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/cockroachdb/pebble/v2"
	_ "github.com/ncruces/go-sqlite3/driver"
	_ "github.com/ncruces/go-sqlite3/embed"
)

const (
	BackendPebble = "pebble"
	BackendSQLite = "sqlite"
)

func init() {
	backends = append(backends, BackendPebble, BackendSQLite)
	openOther = func(store *kv, dir string, opts Options) error {
		var err error
		switch opts.Backend {
		case BackendPebble:
			*store, err = openPebble(dir, opts.Sync)
		case BackendSQLite:
			*store, err = openSQLite(dir, opts.Sync)
		default:
			err = fmt.Errorf("unknown backend %q", opts.Backend)
		}
		return err
	}
}

// Pebble: a write transaction is an indexed batch (it reads its own
// writes), committed with or without fsync; a read is a snapshot.

type pebbleKV struct {
	db   *pebble.DB
	sync bool
}

func openPebble(dir string, sync bool) (kv, error) {
	db, err := pebble.Open(filepath.Join(dir, "pebble"), &pebble.Options{Logger: quietLogger{}})
	if err != nil {
		return nil, err
	}
	return &pebbleKV{db: db, sync: sync}, nil
}

type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(f string, a ...any) {
	panic(fmt.Sprintf(f, a...))
}

func (p *pebbleKV) update(fn func(kvTx) error) error {
	b := p.db.NewIndexedBatch()
	defer b.Close()
	if err := fn(pebbleTx{r: b, w: b}); err != nil {
		return err
	}
	opt := pebble.NoSync
	if p.sync {
		opt = pebble.Sync
	}
	return b.Commit(opt)
}

func (p *pebbleKV) view(fn func(kvTx) error) error {
	s := p.db.NewSnapshot()
	defer s.Close()
	return fn(pebbleTx{r: s})
}

func (p *pebbleKV) close() error { return p.db.Close() }

type pebbleReader interface {
	Get(key []byte) ([]byte, io.Closer, error)
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

type pebbleTx struct {
	r pebbleReader
	w *pebble.Batch
}

func (t pebbleTx) get(k []byte) ([]byte, error) {
	v, c, err := t.r.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, v...)
	return out, c.Close()
}

func (t pebbleTx) set(k, v []byte) error {
	if t.w == nil {
		return errReadOnly
	}
	return t.w.Set(k, v, nil)
}

func (t pebbleTx) del(k []byte) error {
	if t.w == nil {
		return errReadOnly
	}
	return t.w.Delete(k, nil)
}

func (t pebbleTx) scan(start, end []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	it, err := t.r.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	defer it.Close()
	var ok bool
	if reverse {
		ok = it.Last()
	} else {
		ok = it.First()
	}
	for ; ok; ok = map[bool]func() bool{false: it.Next, true: it.Prev}[reverse]() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if more, err := fn(it.Key(), v); !more || err != nil {
			return err
		}
	}
	return it.Error()
}

// SQLite (ncruces/go-sqlite3: SQLite compiled to WebAssembly, run by
// wazero, no cgo): one table of blobs in WAL mode; synchronous=NORMAL
// (a commit survives the process being killed) or FULL with Sync.

type sqliteKV struct{ db *sql.DB }

func openSQLite(dir string, sync bool) (kv, error) {
	mode := "NORMAL"
	if sync {
		mode = "FULL"
	}
	dsn := "file:" + filepath.Join(dir, "playbook.sqlite") + "?_pragma=journal_mode(WAL)&_pragma=synchronous(" + mode + ")&_pragma=busy_timeout(5000)"
	db, err := sql.Open("sqlite3", dsn)
	if err != nil {
		return nil, err
	}
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID`); err != nil {
		db.Close()
		return nil, err
	}
	return &sqliteKV{db: db}, nil
}

func (s *sqliteKV) update(fn func(kvTx) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	if err := fn(sqliteTx{tx: tx, write: true}); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *sqliteKV) view(fn func(kvTx) error) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(sqliteTx{tx: tx})
}

func (s *sqliteKV) close() error { return s.db.Close() }

type sqliteTx struct {
	tx    *sql.Tx
	write bool
}

func (t sqliteTx) get(k []byte) ([]byte, error) {
	var v []byte
	err := t.tx.QueryRow(`SELECT v FROM kv WHERE k = ?`, k).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if v == nil && err == nil {
		v = []byte{}
	}
	return v, err
}

func (t sqliteTx) set(k, v []byte) error {
	if !t.write {
		return errReadOnly
	}
	if v == nil {
		v = []byte{}
	}
	_, err := t.tx.Exec(`INSERT INTO kv (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`, k, v)
	return err
}

func (t sqliteTx) del(k []byte) error {
	if !t.write {
		return errReadOnly
	}
	_, err := t.tx.Exec(`DELETE FROM kv WHERE k = ?`, k)
	return err
}

func (t sqliteTx) scan(start, end []byte, reverse bool, fn func(k, v []byte) (bool, error)) error {
	q := `SELECT k, v FROM kv WHERE k >= ?`
	args := []any{start}
	if start == nil {
		q, args = `SELECT k, v FROM kv WHERE 1`, nil
	}
	if end != nil {
		q += ` AND k < ?`
		args = append(args, end)
	}
	if reverse {
		q += ` ORDER BY k DESC`
	} else {
		q += ` ORDER BY k`
	}
	rows, err := t.tx.Query(q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		if more, err := fn(k, v); !more || err != nil {
			return err
		}
	}
	return rows.Err()
}
