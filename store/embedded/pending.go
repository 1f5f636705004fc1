package embedded

import (
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Pending marks: K("pm", mark) holds the mark's time (Unix ms) and
// K("pq", ms, mark) orders the marks by it for ClaimPending.

func putMark(tx *Tx, mark string, at time.Time) error {
	if err := dropMark(tx, mark); err != nil {
		return err
	}
	return putNewMark(tx, mark, at)
}

// putNewMark is putMark for a mark that cannot exist yet (a fresh nonce,
// made by Commit): nothing to drop first, one lookup less per turn.
func putNewMark(tx *Tx, mark string, at time.Time) error {
	ms := at.UnixMilli()
	if err := tx.putNew(K("pm", mark), binary.BigEndian.AppendUint64(nil, uint64(ms))); err != nil {
		return err
	}
	return tx.putNew(K("pq", ms, mark), nil)
}

// dropMark deletes a mark's two keys, each found once: a turn's mark is
// dropped by the fold that follows it, so this runs for nearly every turn.
func dropMark(tx *Tx, mark string) error {
	pm := K("pm", mark)
	rec, err := tx.t.get(pm)
	if err != nil || rec == nil {
		return err
	}
	v, _, ok := tx.live(rec)
	if !ok || len(v) != 8 {
		return nil
	}
	if err := tx.Delete(K("pq", int64(binary.BigEndian.Uint64(v)), mark)); err != nil {
		return err
	}
	return tx.deleteOld(pm, rec)
}

// Done clears a turn's pending mark.
func (s *Sessions) Done(ctx context.Context, mark string) error {
	if mark == "" {
		return nil
	}
	return s.db.Update(ctx, func(tx *Tx) error { return dropMark(tx, mark) })
}

// DoneMany clears many marks in one transaction.
func (s *Sessions) DoneMany(ctx context.Context, marks []string) error {
	if !slices.ContainsFunc(marks, func(m string) bool { return m != "" }) {
		return nil
	}
	return s.db.Update(ctx, func(tx *Tx) error {
		for _, m := range marks {
			if m == "" {
				continue
			}
			if err := dropMark(tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

// Mark puts a turn's pending mark back (now).
func (s *Sessions) Mark(ctx context.Context, mark string) error {
	if mark == "" {
		return nil
	}
	return s.db.Update(ctx, func(tx *Tx) error { return putMark(tx, mark, s.markTime(tx)) })
}

// markTime is when a mark made in tx is stamped: SessionOptions.Now, or
// the DB's clock.
func (s *Sessions) markTime(tx *Tx) time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return tx.Now()
}

// ClaimPending returns up to n marks older than before and renews them
// (see store.PendingMarks).
func (s *Sessions) ClaimPending(ctx context.Context, before, now time.Time, n int) ([]store.Pending, error) {
	var out []store.Pending
	err := s.db.Update(ctx, func(tx *Tx) error {
		out = out[:0]
		var marks []string
		err := tx.ScanRange(K("pq"), K("pq", before.UnixMilli()+1), false, func(k, _ []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 3 {
				return false, err
			}
			m, _ := parts[2].(string)
			marks = append(marks, m)
			return len(marks) < n, nil
		})
		if err != nil {
			return err
		}
		for _, m := range marks {
			if err := putMark(tx, m, now); err != nil {
				return err
			}
			conv, _, _ := strings.Cut(m, "|")
			out = append(out, store.Pending{Conversation: conv, Mark: m})
		}
		return nil
	})
	return out, err
}

// PendingCount is how many marks there are.
func (s *Sessions) PendingCount(ctx context.Context) (int64, error) {
	var n int
	err := s.db.View(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.Count(K("pm"))
		return err
	})
	return int64(n), err
}
