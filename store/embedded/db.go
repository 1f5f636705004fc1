package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofrs/flock"

	"github.com/playbook-dev/playbook/store"
)

// Options configure a DB.
type Options struct {
	// Now is the clock expiry is checked against; default time.Now. Tests
	// inject one to move time instead of sleeping.
	Now func() time.Time
	// SweepEvery is how often expired keys are deleted in the background;
	// default 1s; negative: never (call Sweep). Expired keys are invisible
	// to reads before the sweep deletes them.
	SweepEvery time.Duration
	// Sync makes every commit wait for the disk (fsync) before it returns.
	// Without it a commit returns once its data is written to the
	// operating system: it survives the process being killed (kill -9),
	// not a power cut or a kernel crash. Default false.
	Sync bool
	// Backend is the key-value store underneath: "bbolt" (the default).
	Backend string
	// Logger reports sweep errors; default slog.Default().
	Logger *slog.Logger
	// MaxBatchDelay is how long a commit waits for more writers to join
	// it (group commit, see Batch) when the last commit had more than one
	// and the process is busy (other goroutines run or wait for a CPU): under
	// concurrent load fewer, larger commits cost less CPU per write, and
	// at a light load nobody waits. Default DefaultMaxBatchDelay;
	// negative: never wait.
	MaxBatchDelay time.Duration
	// MaxBatchSize ends the wait as soon as this many writers wait;
	// default DefaultMaxBatchSize.
	MaxBatchSize int
	// Observer hears of every read transaction ("read") and every commit
	// ("commit", one per group of writes), for metrics; nil: none.
	Observer store.Observer
}

// Defaults of Options.MaxBatchDelay and MaxBatchSize. Measured on the
// bench's embedded scenario (docs/benchmarks.md): 0.5-2 ms of waiting
// took the server's CPU per turn down 8-10 % with p50 unchanged.
const (
	DefaultMaxBatchDelay = time.Millisecond
	DefaultMaxBatchSize  = 128
)

// DB is an embedded, persistent key-value store in one directory, owned
// by one process (a lock file; a second Open of the directory fails with
// ErrLocked), with atomic transactions over ordered keys (see K), expiring
// keys and an in-process Bus. It is safe for concurrent use; writers are
// serialized.
type DB struct {
	dir  string
	kv   kv
	lock *flock.Flock
	now  func() time.Time
	log  *slog.Logger
	bus  *Bus
	obs  store.Observer // Options.Observer, nil for none

	wmu sync.Mutex // one writer at a time, whatever the backend

	bmu        sync.Mutex        // guards pending, leading, lastSize, full, want, waits (Batch)
	pending    []*batchCall      // Batch calls waiting for the next commit
	leading    bool              // a Batch caller is committing batches
	lastSize   int               // calls in the last batch committed
	batchDelay time.Duration     // Options.MaxBatchDelay
	batchSize  int               // Options.MaxBatchSize
	full       chan struct{}     // closed by Batch once want calls wait (nil: no leader waits)
	want       int               // calls the waiting leader wants
	waits      int               // commits that waited for a fuller batch, for tests
	waitTimer  *time.Timer       // the leader's batch delay (only the leader uses it)
	sched      [2]metrics.Sample // goroutines runnable and running (only the leader reads it)
	waitWhen   func() bool       // tests: whether the process is busy (nil: ask the runtime)

	// The committing leader's, under wmu (runBatch): kept from commit to
	// commit so that their room is reused.
	undo     undoTx         // the undo log of a commit of several calls
	counters commitCounters // the counter additions of a commit (addCounter)

	reads atomic.Int64 // read transactions (View), for tests

	hmu     sync.Mutex
	onSweep map[string]func(tx *Tx, key []byte) error

	lmu    sync.Mutex           // guards leases
	leases map[string]time.Time // each lease's end (Leases), in memory: one process holds the DB

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// ErrLocked is returned by Open for a directory another process holds.
var ErrLocked = errors.New("data directory is in use by another process")

// Open opens (creating it if needed) the DB in dir.
func Open(dir string, opts Options) (*DB, error) {
	if dir == "" {
		return nil, errors.New("embedded: no data directory")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepEvery == 0 {
		opts.SweepEvery = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Backend == "" {
		opts.Backend = BackendBolt
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: data directory %s: %w", dir, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	lock := flock.New(filepath.Join(dir, "LOCK"))
	ok, err := lock.TryLock()
	if err != nil {
		return nil, fmt.Errorf("embedded: locking data directory %s: %w", abs, err)
	}
	if !ok {
		return nil, fmt.Errorf("embedded: %s: %w (only one playbook process may use a data directory; stop the other one, or use Redis to run several)", abs, ErrLocked)
	}
	var store kv
	switch opts.Backend {
	case BackendBolt:
		store, err = openBolt(dir, opts.Sync)
	default:
		err = openOther(&store, dir, opts)
	}
	if err == nil {
		if err = migrateLayout(store); err != nil {
			_ = store.close()
		}
	}
	if err != nil {
		_ = lock.Unlock()
		return nil, fmt.Errorf("embedded: opening %s (%s): %w", abs, opts.Backend, err)
	}
	db := &DB{dir: abs, kv: store, lock: lock, now: opts.Now, log: opts.Logger, bus: newBus(), obs: opts.Observer,
		stop: make(chan struct{}), done: make(chan struct{})}
	if opts.MaxBatchDelay == 0 {
		opts.MaxBatchDelay = DefaultMaxBatchDelay
	}
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = DefaultMaxBatchSize
	}
	db.batchDelay, db.batchSize = max(0, opts.MaxBatchDelay), opts.MaxBatchSize
	db.sched[0].Name, db.sched[1].Name = "/sched/goroutines/runnable:goroutines", "/sched/goroutines/running:goroutines"
	if opts.SweepEvery > 0 {
		go db.sweepLoop(opts.SweepEvery)
	} else {
		close(db.done)
	}
	return db, nil
}

// openOther opens the backends other than bbolt (see backends.go).
var openOther = func(store *kv, dir string, opts Options) error {
	return fmt.Errorf("unknown backend %q", opts.Backend)
}

// Dir is the DB's directory (absolute).
func (db *DB) Dir() string { return db.dir }

// Now is the DB's clock.
func (db *DB) Now() time.Time { return db.now() }

// Bus is the DB's in-process pub/sub.
func (db *DB) Bus() *Bus { return db.bus }

// Close stops the sweep, closes the store and releases the directory.
func (db *DB) Close() error {
	var err error
	db.once.Do(func() {
		close(db.stop)
		<-db.done
		db.wmu.Lock()
		err = db.kv.close()
		db.wmu.Unlock()
		if uerr := db.lock.Unlock(); err == nil {
			err = uerr
		}
		db.bus.closeAll()
	})
	return err
}

// Update runs fn in a read-write transaction, committed when fn returns
// nil and rolled back when it returns an error (which Update returns).
// Messages fn published (Tx.Publish) are delivered after the commit, and
// only if it succeeded. Transactions run one at a time; ctx is checked
// before fn runs.
//
// The calls that wait while a commit is under way are committed together
// in the next transaction (group commit, see Batch): fn runs once, and
// when it fails its writes are undone without touching the other calls'.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return db.Batch(ctx, fn)
}

// View runs fn in a read-only transaction, which sees a consistent
// snapshot.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.reads.Add(1)
	if db.obs == nil {
		return db.kv.view(func(t kvTx) error {
			return fn(&Tx{t: t, now: db.now()})
		})
	}
	start := time.Now()
	var fnErr error
	err := db.kv.view(func(t kvTx) error {
		fnErr = fn(&Tx{t: t, now: db.now()})
		return fnErr
	})
	var failed error // the store's own failure, not fn's
	if err != nil && err != fnErr {
		failed = err
	}
	db.obs.RoundTrip("read", time.Since(start), failed)
	return err
}

// Tx is a transaction. Keys are made with K; values are any bytes. Slices
// it returns are copies the caller may keep. Do not write in a Scan's
// callback: collect the keys, then write.
type Tx struct {
	t        kvTx
	now      time.Time
	write    bool
	publish  []pub
	counters *commitCounters // the commit's counter additions (addCounter); nil: none
}

type pub struct{ Channel, Payload string }

// Now is the time the transaction started, by the DB's clock: what expiry
// is checked against.
func (tx *Tx) Now() time.Time { return tx.now }

// Values are stored as 8 bytes of expiry (Unix nanoseconds, 0 for none)
// followed by the value. An expiring key also has an index key,
// 0x00 'x' time key, that the sweep walks, at its expiry or earlier (a
// renewal leaves the entry where it was; see PutExpiring). Entries the
// sweep reaches for keys that are gone, or no longer expire, are dropped;
// for keys that expire later, moved to their expiry.
const hdr = 8

var expIndex = []byte{0, 'x'}

func expKey(at int64, k []byte) []byte {
	b := make([]byte, 0, len(expIndex)+8+len(k))
	b = append(b, expIndex...)
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	return append(b, k...)
}

func checkKey(k []byte) error {
	if len(k) == 0 || k[0] == 0 {
		return fmt.Errorf("embedded: bad key %q (make keys with K)", k)
	}
	return nil
}

// live returns the value of a stored record, or nil when it expired.
func (tx *Tx) live(rec []byte) ([]byte, int64, bool) {
	if len(rec) < hdr {
		return nil, 0, false
	}
	at := int64(binary.BigEndian.Uint64(rec))
	if at != 0 && at <= tx.now.UnixNano() {
		return nil, at, false
	}
	return rec[hdr:], at, true
}

// Get returns the value of key and whether it exists (and has not
// expired).
func (tx *Tx) Get(key []byte) ([]byte, bool, error) {
	rec, err := tx.t.get(key)
	if err != nil || rec == nil {
		return nil, false, err
	}
	v, _, ok := tx.live(rec)
	if !ok {
		return nil, false, nil
	}
	return append([]byte{}, v...), true, nil
}

// Has reports whether key exists (and has not expired).
func (tx *Tx) Has(key []byte) (bool, error) {
	rec, err := tx.t.get(key)
	if err != nil || rec == nil {
		return false, err
	}
	_, _, ok := tx.live(rec)
	return ok, nil
}

// ExpiresAt returns when key expires (zero: never) and whether it exists.
func (tx *Tx) ExpiresAt(key []byte) (time.Time, bool, error) {
	rec, err := tx.t.get(key)
	if err != nil || rec == nil {
		return time.Time{}, false, err
	}
	_, at, ok := tx.live(rec)
	if !ok {
		return time.Time{}, false, nil
	}
	if at == 0 {
		return time.Time{}, true, nil
	}
	return time.Unix(0, at), true, nil
}

// Put stores val at key, with no expiry.
func (tx *Tx) Put(key, val []byte) error { return tx.PutExpiring(key, val, time.Time{}) }

// PutTTL stores val at key, expiring ttl from the transaction's time.
func (tx *Tx) PutTTL(key, val []byte, ttl time.Duration) error {
	return tx.PutExpiring(key, val, tx.now.Add(ttl))
}

// PutExpiring stores val at key, expiring at at (zero: never).
func (tx *Tx) PutExpiring(key, val []byte, at time.Time) error {
	if err := checkKey(key); err != nil {
		return err
	}
	old, err := tx.t.get(key)
	if err != nil {
		return err
	}
	return tx.putExpiringOver(key, val, at, old)
}

// PutKeepingExpiry stores val at key, keeping the expiry the key has (none
// when it is missing or expired): ExpiresAt and PutExpiring with one
// lookup of the key.
func (tx *Tx) PutKeepingExpiry(key, val []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	old, err := tx.t.get(key)
	if err != nil {
		return err
	}
	var at time.Time
	if _, ns, ok := tx.live(old); ok && ns != 0 {
		at = time.Unix(0, ns)
	}
	return tx.putExpiringOver(key, val, at, old)
}

// putExpiringOver is PutExpiring of a key whose stored record the caller
// read in this transaction, old (nil: none): no second lookup, for the
// undo log either. val may be a slice of old.
func (tx *Tx) putExpiringOver(key, val []byte, at time.Time, old []byte) error {
	var ns int64
	if !at.IsZero() {
		ns = at.UnixNano()
		if ns <= 0 {
			ns = 1
		}
	}
	// A key that had another expiry leaves its old index entry behind
	// unless it is deleted here: a session renewed by every turn would
	// leave one per turn.
	var err error
	var was int64
	if len(old) >= hdr {
		was = int64(binary.BigEndian.Uint64(old))
	}
	rec := make([]byte, hdr+len(val))
	binary.BigEndian.PutUint64(rec, uint64(ns))
	copy(rec[hdr:], val)
	if u, ok := tx.t.(*undoTx); ok {
		err = u.setOver(key, rec, old)
	} else {
		err = tx.t.set(key, rec)
	}
	if err != nil {
		return err
	}
	// The index entry of a key may be earlier than its expiry, never
	// later: a later expiry (a session renewed by its turn) keeps the
	// entry it has, and the sweep, finding the key alive there, moves the
	// entry to the key's expiry then. That spares every renewal two
	// writes to the index (moving the entry) and the index pages they
	// dirty. An earlier expiry, or a first one, needs an entry.
	if ns != 0 && (was == 0 || ns < was) {
		return tx.t.set(expKey(ns, key), nil)
	}
	return nil
}

// putOver is PutExpiring of a session record for a key whose stored
// record the caller read in this transaction, prev (nil: none): no second
// lookup, and the record is built in one buffer.
func (tx *Tx) putOver(key []byte, r sessionRecord, at time.Time, prev []byte) error {
	ns := at.UnixNano()
	if ns <= 0 {
		ns = 1
	}
	var was int64
	if len(prev) >= hdr {
		was = int64(binary.BigEndian.Uint64(prev))
	}
	rec := make([]byte, hdr+24, hdr+24+len(r.data))
	binary.BigEndian.PutUint64(rec, uint64(ns))
	binary.BigEndian.PutUint64(rec[hdr:], uint64(r.version))
	binary.BigEndian.PutUint64(rec[hdr+8:], uint64(r.lastMs))
	binary.BigEndian.PutUint64(rec[hdr+16:], uint64(r.lastSeq))
	rec = append(rec, r.data...)
	var err error
	if u, ok := tx.t.(*undoTx); ok {
		err = u.setOver(key, rec, prev)
	} else {
		err = tx.t.set(key, rec)
	}
	if err != nil {
		return err
	}
	if was == 0 || ns < was { // as PutExpiring
		return tx.t.set(expKey(ns, key), nil)
	}
	return nil
}

// putNew is Put for a key the caller knows does not exist (a transcript
// entry after the session's last one, a client id it just looked up, a
// mark with a fresh nonce): no lookup of a previous value first, one
// B-tree search less per key. Were the key there after all, its value is
// replaced all the same; only a failed call's undo would then delete it
// instead of putting the old value back, and an expiry index entry it had
// would be dropped by the sweep as stale.
func (tx *Tx) putNew(key, val []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	rec := make([]byte, hdr+len(val))
	copy(rec[hdr:], val)
	if u, ok := tx.t.(*undoTx); ok {
		return u.setOver(key, rec, nil)
	}
	return tx.t.set(key, rec)
}

// Expire sets when an existing key expires (zero: never) and reports
// whether it existed.
func (tx *Tx) Expire(key []byte, at time.Time) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, err
	}
	rec, err := tx.t.get(key)
	if err != nil || rec == nil {
		return false, err
	}
	v, _, ok := tx.live(rec)
	if !ok {
		return false, nil
	}
	return true, tx.putExpiringOver(key, v, at, rec)
}

// Delete removes key (a missing key is fine), and its expiry index entry
// when that is at the key's expiry (an earlier one, left by a renewal, is
// dropped by the sweep).
func (tx *Tx) Delete(key []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	old, err := tx.t.get(key)
	if err != nil || old == nil {
		return err
	}
	return tx.deleteOld(key, old)
}

// deleteOld is Delete of a key whose stored record the caller read in
// this transaction, old (not nil): no second lookup, for the undo log
// either.
func (tx *Tx) deleteOld(key, old []byte) error {
	if len(old) >= hdr {
		if at := int64(binary.BigEndian.Uint64(old)); at != 0 {
			if err := tx.t.del(expKey(at, key)); err != nil {
				return err
			}
		}
	}
	if u, ok := tx.t.(*undoTx); ok {
		return u.delOver(key, old)
	}
	return tx.t.del(key)
}

// DeletePrefix removes every key that starts with prefix and returns how
// many it removed (expired ones included).
func (tx *Tx) DeletePrefix(prefix []byte) (int, error) {
	if err := checkKey(prefix); err != nil {
		return 0, err
	}
	var keys [][]byte
	err := tx.t.scan(prefix, PrefixEnd(prefix), false, func(k, _ []byte) (bool, error) {
		keys = append(keys, append([]byte{}, k...))
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := tx.t.del(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// Scan calls fn on every live key that starts with prefix, in key order,
// until fn returns false or an error (which Scan returns).
func (tx *Tx) Scan(prefix []byte, fn func(key, val []byte) (bool, error)) error {
	return tx.ScanRange(prefix, PrefixEnd(prefix), false, fn)
}

// ScanRange calls fn on every live key in [start, end) (end nil: no
// bound), in ascending order or descending when reverse, until fn returns
// false or an error. The slices fn gets are valid only during the call.
func (tx *Tx) ScanRange(start, end []byte, reverse bool, fn func(key, val []byte) (bool, error)) error {
	if err := checkKey(start); err != nil {
		return err
	}
	return tx.t.scan(start, end, reverse, func(k, rec []byte) (bool, error) {
		v, _, ok := tx.live(rec)
		if !ok {
			return true, nil
		}
		return fn(k, v)
	})
}

// Count is how many live keys start with prefix.
func (tx *Tx) Count(prefix []byte) (int, error) {
	n := 0
	err := tx.Scan(prefix, func(_, _ []byte) (bool, error) { n++; return true, nil })
	return n, err
}

// Incr adds delta to the int64 counter at key (missing: 0), keeps its
// expiry, and returns the new value.
func (tx *Tx) Incr(key []byte, delta int64) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, err
	}
	rec, err := tx.t.get(key)
	if err != nil {
		return 0, err
	}
	var n int64
	var at time.Time
	if rec != nil {
		if v, exp, ok := tx.live(rec); ok {
			if len(v) != 8 {
				return 0, fmt.Errorf("embedded: key %q is not a counter", key)
			}
			n = int64(binary.BigEndian.Uint64(v))
			if exp != 0 {
				at = time.Unix(0, exp)
			}
		}
	}
	n += delta
	return n, tx.putExpiringOver(key, binary.BigEndian.AppendUint64(nil, uint64(n)), at, rec)
}

// Publish queues a message for the DB's Bus, delivered once the
// transaction commits (dropped if it does not).
func (tx *Tx) Publish(channel, payload string) {
	tx.publish = append(tx.publish, pub{channel, payload})
}

// Sweep deletes the keys that expired by now and returns how many.
func (db *DB) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		n, more, err := db.sweepBatch(ctx, 1000)
		total += n
		if err != nil || !more {
			return total, err
		}
	}
}

func (db *DB) sweepBatch(ctx context.Context, max int) (deleted int, more bool, err error) {
	err = db.Update(ctx, func(tx *Tx) error {
		now := tx.now.UnixNano()
		end := expKey(now+1, nil)
		var idx [][]byte
		if err := tx.t.scan(expIndex, end, false, func(k, _ []byte) (bool, error) {
			if len(idx) == max {
				more = true
				return false, nil
			}
			idx = append(idx, append([]byte{}, k...))
			return true, nil
		}); err != nil {
			return err
		}
		for _, ik := range idx {
			key := ik[len(expIndex)+8:]
			rec, err := tx.t.get(key)
			if err != nil {
				return err
			}
			if err := tx.t.del(ik); err != nil {
				return err
			}
			var exp int64
			if len(rec) >= hdr {
				exp = int64(binary.BigEndian.Uint64(rec))
			}
			switch {
			case exp == 0:
				// Gone, or no longer expiring: a stale entry.
			case exp > now:
				// Renewed since the entry was made: it moves to the
				// key's expiry (after the range this sweep walks).
				if err := tx.t.set(expKey(exp, key), nil); err != nil {
					return err
				}
			default:
				if err := tx.t.del(key); err != nil {
					return err
				}
				deleted++
				if fn := db.sweepHook(key); fn != nil {
					if err := fn(tx, key); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return deleted, more, err
}

// OnExpire registers fn to run in the sweep's transaction for every key
// of key space space (a key's first part, see keys.go) the sweep deletes:
// a session's transcript goes with it, an agent whose heartbeat expired
// goes offline. fn must not call the DB (it is inside a transaction).
func (db *DB) OnExpire(space string, fn func(tx *Tx, key []byte) error) {
	db.hmu.Lock()
	defer db.hmu.Unlock()
	if db.onSweep == nil {
		db.onSweep = map[string]func(*Tx, []byte) error{}
	}
	db.onSweep[space] = fn
}

func (db *DB) sweepHook(key []byte) func(*Tx, []byte) error {
	db.hmu.Lock()
	defer db.hmu.Unlock()
	if len(db.onSweep) == 0 {
		return nil
	}
	parts, err := SplitKey(key)
	if err != nil || len(parts) == 0 {
		return nil
	}
	space, _ := parts[0].(string)
	return db.onSweep[space]
}

func (db *DB) sweepLoop(every time.Duration) {
	defer close(db.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		if _, err := db.Sweep(context.Background()); err != nil {
			db.log.Error("deleting expired keys", "dir", db.dir, "err", err)
		}
	}
}
