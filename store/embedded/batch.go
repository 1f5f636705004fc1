package embedded

import "context"

// batchCall is one Batch call waiting for its commit.
type batchCall struct {
	fn   func(*Tx) error
	done chan error
	tx   *Tx
}

// Batch is Update for many concurrent callers: the calls that wait while
// a commit is under way are committed together in the next transaction
// (group commit), so N concurrent turns cost one commit, not N. fn may run
// more than once (when another call of its batch fails, the others run
// again without it), so it must set what it returns from scratch on every
// run. Messages it published are delivered after its commit.
func (db *DB) Batch(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c := &batchCall{fn: fn, done: make(chan error, 1)}
	db.bmu.Lock()
	db.pending = append(db.pending, c)
	if db.leading {
		db.bmu.Unlock()
		return <-c.done
	}
	db.leading = true
	for {
		batch := db.pending
		db.pending = nil
		if len(batch) == 0 {
			db.leading = false
			db.bmu.Unlock()
			break
		}
		db.bmu.Unlock()
		db.runBatch(batch)
		db.bmu.Lock()
	}
	return <-c.done
}

// runBatch commits batch in one transaction; a call that fails gets its
// error and the others are committed again without it.
func (db *DB) runBatch(batch []*batchCall) {
	for len(batch) > 0 {
		failed := -1
		var ferr error
		err := func() error {
			db.wmu.Lock()
			defer db.wmu.Unlock()
			return db.kv.update(func(t kvTx) error {
				now := db.now()
				for i, c := range batch {
					c.tx = &Tx{t: t, now: now, write: true}
					if err := c.fn(c.tx); err != nil {
						failed, ferr = i, err
						return err
					}
				}
				return nil
			})
		}()
		if err == nil {
			for _, c := range batch {
				for _, m := range c.tx.publish {
					db.bus.publish(m.Channel, m.Payload)
				}
				c.done <- nil
			}
			return
		}
		if failed < 0 { // the commit itself failed: every call gets it
			for _, c := range batch {
				c.done <- err
			}
			return
		}
		batch[failed].done <- ferr
		batch = append(batch[:failed:failed], batch[failed+1:]...)
	}
}
