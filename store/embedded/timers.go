package embedded

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Timers is the durable timer queue of a DB (store.Timers): K("tm", conv,
// id) holds a timer's due time (Unix ms), K("tq", ms, conv, id) orders
// them. Claim deletes what it returns in the same transaction, so each
// timer fires once.
type Timers struct{ db *DB }

var _ store.Timers = (*Timers)(nil)

// NewTimers returns the timer queue of db.
func NewTimers(db *DB) *Timers { return &Timers{db: db} }

// Set schedules timer id of conversation conv at at.
func (t *Timers) Set(ctx context.Context, conv, id string, at time.Time) error {
	return t.db.Update(ctx, func(tx *Tx) error { return setTimer(tx, conv, id, at) })
}

// setTimer is Set in tx (HandOff sets the turn's timers in its own).
func setTimer(tx *Tx, conv, id string, at time.Time) error {
	if err := cancelTimer(tx, conv, id); err != nil {
		return err
	}
	ms := at.UnixMilli()
	if err := tx.Put(K("tm", conv, id), binary.BigEndian.AppendUint64(nil, uint64(ms))); err != nil {
		return err
	}
	return tx.Put(K("tq", ms, conv, id), nil)
}

func cancelTimer(tx *Tx, conv, id string) error {
	v, ok, err := tx.Get(K("tm", conv, id))
	if err != nil || !ok || len(v) != 8 {
		return err
	}
	if err := tx.Delete(K("tq", int64(binary.BigEndian.Uint64(v)), conv, id)); err != nil {
		return err
	}
	return tx.Delete(K("tm", conv, id))
}

// Cancel removes a timer.
func (t *Timers) Cancel(ctx context.Context, conv, id string) error {
	return t.db.Update(ctx, func(tx *Tx) error { return cancelTimer(tx, conv, id) })
}

// Claim removes and returns up to limit timers due at or before now.
func (t *Timers) Claim(ctx context.Context, now time.Time, limit int) ([]store.Due, error) {
	var out []store.Due
	err := t.db.Update(ctx, func(tx *Tx) error {
		out = out[:0]
		err := tx.ScanRange(K("tq"), K("tq", now.UnixMilli()+1), false, func(k, _ []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 4 {
				return false, err
			}
			ms, _ := parts[1].(int64)
			conv, _ := parts[2].(string)
			id, _ := parts[3].(string)
			out = append(out, store.Due{Conversation: conv, ID: id, At: time.UnixMilli(ms)})
			return len(out) < limit, nil
		})
		if err != nil {
			return err
		}
		for _, d := range out {
			if err := cancelTimer(tx, d.Conversation, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
