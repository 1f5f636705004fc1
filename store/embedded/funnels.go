package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Funnels keeps the funnel rollup in a DB (store.Funnels): what each
// conversation folded, K("fnc", conv) -> its facts and when (JSON,
// Unix ms), expiring keep after its last fold; and the counters, K("fnr", day, playbook,
// version, variant, counter) -> count, kept for good.
type Funnels struct{ db *DB }

var _ store.Funnels = (*Funnels)(nil)

// NewFunnels returns the funnel rollup of db.
func NewFunnels(db *DB) *Funnels { return &Funnels{db: db} }

// Fold implements store.Funnels.
func (f *Funnels) Fold(ctx context.Context, conv string, key store.FunnelKey, facts []store.FunnelFact, keep time.Duration, done string) error {
	return f.db.Update(ctx, func(tx *Tx) error { return foldTx(tx, conv, key, facts, keep, done) })
}

// errBadFacts is a conversation whose stored facts do not decode: its
// fold fails (writing nothing) without failing the others of a FoldMany.
type errBadFacts struct{ err error }

func (e errBadFacts) Error() string { return e.err.Error() }
func (e errBadFacts) Unwrap() error { return e.err }

// FoldMany implements store.Funnels: one transaction for all the folds
// and their marks. A conversation whose stored facts do not decode fails
// alone (its mark stays); a failure of the store fails them all.
func (f *Funnels) FoldMany(ctx context.Context, folds []store.FunnelFold, keep time.Duration) []error {
	errs := make([]error, len(folds))
	err := f.db.Update(ctx, func(tx *Tx) error {
		for i, x := range folds {
			errs[i] = nil // the batch may run again (group commit)
			if err := foldTx(tx, x.Conv, x.Key, x.Facts, keep, x.Done); err != nil {
				var bad errBadFacts
				if !errors.As(err, &bad) {
					return err
				}
				errs[i] = err
			}
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// foldTx folds facts of conv under key in tx, and clears the pending mark
// done ("" for none).
func foldTx(tx *Tx, conv string, key store.FunnelKey, facts []store.FunnelFact, keep time.Duration, done string) error {
	ck := K("fnc", conv)
	seen := map[string]int64{}
	if v, ok, err := tx.Get(ck); err != nil {
		return err
	} else if ok {
		if err := json.Unmarshal(v, &seen); err != nil {
			return errBadFacts{fmt.Errorf("funnel facts of %s: %w", conv, err)}
		}
	}
	row := func(counter string) []byte {
		return K("fnr", key.Day, key.Playbook, key.Version, key.Variant, counter)
	}
	for _, fact := range facts {
		if _, ok := seen[fact.Name]; ok {
			continue
		}
		at := fact.At.UnixMilli()
		seen[fact.Name] = at
		if _, err := tx.Incr(row(fact.Counter), 1); err != nil {
			return err
		}
		if since, ok := seen[fact.Since]; ok && fact.Since != "" {
			if _, err := tx.Incr(row(fact.Timing+"|"+store.FunnelBucket(at-since)), 1); err != nil {
				return err
			}
		}
	}
	b, err := json.Marshal(seen)
	if err != nil {
		return err
	}
	if done != "" {
		if err := dropMark(tx, done); err != nil {
			return err
		}
	}
	return tx.PutTTL(ck, b, keep)
}

// Funnel implements store.Funnels.
func (f *Funnels) Funnel(ctx context.Context, q store.FunnelQuery) ([]store.FunnelRow, error) {
	var out []store.FunnelRow
	err := f.db.View(ctx, func(tx *Tx) error {
		start := K("fnr", q.Since)
		return tx.ScanRange(start, PrefixEnd(K("fnr")), false, func(k, v []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 6 || len(v) != 8 {
				return true, nil // not a counter of this layout: skip it
			}
			var r store.FunnelRow
			r.Day, _ = parts[1].(string)
			r.Playbook, _ = parts[2].(string)
			r.Version, _ = parts[3].(string)
			r.Variant, _ = parts[4].(string)
			r.Counter, _ = parts[5].(string)
			r.Count = int64(binary.BigEndian.Uint64(v))
			if q.Playbook == "" || q.Playbook == r.Playbook {
				out = append(out, r)
			}
			return true, nil
		})
	})
	return out, err
}
