package embedded

import (
	"context"
	"fmt"
	"runtime/metrics"
	"time"
)

// batchCall is one Update or Batch call waiting for its commit.
type batchCall struct {
	fn   func(*Tx) error
	done chan batchDone
	tx   *Tx // txv once the call succeeded (its publications); nil: none
	txv  Tx  // the call's transaction: no allocation of its own
}

// batchDone is what a call gets back: its error, or the value its fn
// panicked with (re-raised in the caller's goroutine); or the lead.
type batchDone struct {
	err      error
	panicked any
	didPanic bool
	lead     bool // not a result: the call is to lead the next commit
}

// Batch is Update for many concurrent callers: the calls that wait while
// a commit is under way are committed together in the next transaction
// (group commit), so N concurrent turns cost one commit, not N. Update is
// the same call; Batch stays as the name that says it.
//
// The first caller with nobody committing leads: it commits what waits
// (its own call among them), then hands the lead to the first call that
// arrived meanwhile, and returns; so no caller waits for more than the
// commit before its own and its own.
func (db *DB) Batch(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &batchCall{fn: fn, done: make(chan batchDone, 1)}
	db.bmu.Lock()
	db.pending = append(db.pending, c)
	lead := !db.leading
	db.leading = true
	if db.full != nil && len(db.pending) >= db.want {
		close(db.full) // the leader waiting for a fuller batch has it
		db.full = nil
	}
	db.bmu.Unlock()
	if lead {
		db.lead()
	}
	for {
		d := <-c.done
		switch {
		case d.lead:
			db.lead()
		case d.didPanic:
			panic(d.panicked)
		default:
			return d.err
		}
	}
}

// lead commits the calls waiting, then passes the lead to the first call
// that arrived during the commit, or gives it up when none did.
//
// When the process is busy (other goroutines run or are ready to run:
// turns on their way, some to this commit) it first waits up to
// the batch delay for as many calls as the last commit held (at most
// MaxBatchSize): under a steady load the next batch fills about as fast
// as the last one did, and fewer, larger commits cost less CPU per call.
// When nothing else runs or waits to run, it commits at once: at a light load
// nobody is coming soon, and waiting would only add to the turn's latency
// (a handoff's turn and its queueing are two commits in a row).
func (db *DB) lead() {
	db.bmu.Lock()
	if want := min(db.lastSize, db.batchSize); db.batchDelay > 0 && len(db.pending) < want && db.busy() {
		full := make(chan struct{})
		db.full, db.want = full, want
		db.waits++
		db.bmu.Unlock()
		db.waitForBatch(full)
		db.bmu.Lock()
		db.full = nil
	}
	batch := db.pending
	db.pending = nil
	db.lastSize = len(batch)
	db.bmu.Unlock()
	db.runBatch(batch)
	db.bmu.Lock()
	if len(db.pending) > 0 {
		db.pending[0].done <- batchDone{lead: true}
	} else {
		db.leading = false
	}
	db.bmu.Unlock()
}

// busy reports whether other goroutines of this process are running or
// ready to run and waiting for a CPU (turns on their way, some of them to
// the next commit). The tests set the answer (waitWhen).
func (db *DB) busy() bool {
	if db.waitWhen != nil {
		return db.waitWhen()
	}
	metrics.Read(db.sched[:])
	runnable, running := db.sched[0].Value, db.sched[1].Value
	if runnable.Kind() != metrics.KindUint64 || running.Kind() != metrics.KindUint64 {
		return true // a runtime without the metrics: wait as under load
	}
	return runnable.Uint64() > 0 || running.Uint64() > 1 // the leader runs
}

// waitForBatch waits until full is closed (Batch closes it once as many
// calls wait as the leader wants) or the batch delay has passed. Only the
// leader waits, so one timer serves every wait.
func (db *DB) waitForBatch(full chan struct{}) {
	if db.waitTimer == nil {
		db.waitTimer = time.NewTimer(db.batchDelay)
	} else {
		db.waitTimer.Reset(db.batchDelay)
	}
	select {
	case <-full:
		db.waitTimer.Stop()
	case <-db.waitTimer.C:
	}
}

// runBatch commits batch in one transaction. Each call's fn runs once; a
// call whose fn fails (or panics) has its writes undone inside the
// transaction (undoTx) and gets its error, and the others commit. Only
// a failed commit fails every call.
func (db *DB) runBatch(batch []*batchCall) {
	results := make([]batchDone, len(batch))
	start := time.Now()
	err := func() error {
		db.wmu.Lock()
		defer db.wmu.Unlock()
		return db.kv.update(func(t kvTx) error {
			now := db.now()
			counters := &db.counters
			counters.reset()
			defer counters.reset()
			u := &db.undo
			u.kvTx = t
			defer func() { u.reset(); u.kvTx = nil }()
			for i, c := range batch {
				c.tx = nil
				tx := &c.txv
				if len(batch) == 1 {
					// Alone in the transaction: a failure rolls the
					// whole transaction back, nothing to undo.
					*tx = Tx{t: t, now: now, write: true, counters: counters}
					if r := runCall(c.fn, tx); r.err != nil || r.didPanic {
						results[i] = r
						return errCallFailed
					}
					tx.keepAdds()
					c.tx = tx
					continue
				}
				*tx = Tx{t: u, now: now, write: true, counters: counters}
				r := runCall(c.fn, tx)
				if r.err != nil || r.didPanic {
					results[i] = r
					if err := u.undo(); err != nil {
						return fmt.Errorf("embedded: undoing a failed transaction: %w", err)
					}
					tx.dropAdds() // its counter additions are dropped
					continue
				}
				u.reset() // kept: the log starts again for the next call
				tx.keepAdds()
				c.tx = tx
			}
			// The counters the calls added to, each written once
			// (Tx.addCounter).
			return counters.write(t)
		})
	}()
	if db.obs != nil {
		failed := err
		if err == errCallFailed {
			failed = nil
		}
		db.obs.RoundTrip("commit", time.Since(start), failed)
	}
	if err == errCallFailed {
		batch[0].done <- results[0]
		return
	}
	if err != nil { // the commit itself failed: every call gets it
		for _, c := range batch {
			c.done <- batchDone{err: err}
		}
		return
	}
	for i, c := range batch {
		if c.tx != nil {
			for _, m := range c.tx.publish {
				db.bus.publish(m.Channel, m.Payload)
			}
		}
		c.done <- results[i]
	}
}

// errCallFailed rolls back a transaction of one call that failed; the call
// gets its own error.
var errCallFailed = fmt.Errorf("embedded: call failed")

// runCall runs fn, turning a panic into a result the caller re-raises.
func runCall(fn func(*Tx) error, tx *Tx) (r batchDone) {
	defer func() {
		if p := recover(); p != nil {
			r = batchDone{panicked: p, didPanic: true}
		}
	}()
	return batchDone{err: fn(tx)}
}

// undoTx records the previous state of every key a call writes so that
// the call's writes can be undone when it fails, leaving the writes of the
// other calls of its batch in place. The DB keeps one (DB.undo, used by
// the committing leader only, under wmu) whose log and key copies are
// reused from call to call and commit to commit: once grown, logging a
// write allocates nothing.
type undoTx struct {
	kvTx
	log  []undoRec
	keys []byte // the logged keys, one after the other (undoRec.start, end)
}

type undoRec struct {
	start, end int    // the key, keys[start:end]
	prev       []byte // its value before the write (nil: none)
	had        bool
}

// maxUndoKeys bounds the key bytes an undoTx keeps between commits (a
// commit that logged more gives its buffer up).
const maxUndoKeys = 1 << 20

// reset empties the log, keeping its room, and drops the values it
// referred to.
func (u *undoTx) reset() {
	clear(u.log)
	u.log = u.log[:0]
	u.keys = u.keys[:0]
	if cap(u.keys) > maxUndoKeys {
		u.keys, u.log = nil, nil
	}
}

func (u *undoTx) remember(k []byte) error {
	prev, err := u.kvTx.get(k)
	if err != nil {
		return err
	}
	u.rememberAs(k, prev)
	return nil
}

// rememberAs logs k's value before a write, prev (nil: none). k is copied
// (the caller may reuse its buffer); prev is not: a kvTx's slices stay
// valid until its transaction ends, and the undo runs inside it.
func (u *undoTx) rememberAs(k, prev []byte) {
	start := len(u.keys)
	u.keys = append(u.keys, k...)
	u.log = append(u.log, undoRec{start: start, end: len(u.keys), prev: prev, had: prev != nil})
}

func (u *undoTx) set(k, v []byte) error {
	if err := u.remember(k); err != nil {
		return err
	}
	return u.kvTx.set(k, v)
}

// setOver is set when the caller has just read k's value, prev (nil:
// none), in this transaction: no second lookup for the log.
func (u *undoTx) setOver(k, v, prev []byte) error {
	u.rememberAs(k, prev)
	return u.kvTx.set(k, v)
}

func (u *undoTx) del(k []byte) error {
	if err := u.remember(k); err != nil {
		return err
	}
	return u.kvTx.del(k)
}

// delOver is del when the caller has just read k's value, prev (not
// nil), in this transaction.
func (u *undoTx) delOver(k, prev []byte) error {
	u.rememberAs(k, prev)
	return u.kvTx.del(k)
}

// undo puts back, newest first, what the writes replaced. The backend
// copies a key it stores (bbolt's Put does), so the log's copy may be
// reused after.
func (u *undoTx) undo() error {
	for i := len(u.log) - 1; i >= 0; i-- {
		r := u.log[i]
		k := u.keys[r.start:r.end:r.end]
		var err error
		if r.had {
			err = u.kvTx.set(k, r.prev)
		} else {
			err = u.kvTx.del(k)
		}
		if err != nil {
			return err
		}
	}
	u.reset()
	return nil
}
