package embedded

import (
	"context"
	"encoding/binary"
	"encoding/json"
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
	folds := []store.FunnelFold{{Conv: conv, Key: key, Facts: facts, Done: done}}
	errs := make([]error, 1)
	err := f.db.Update(ctx, func(tx *Tx) error {
		if err := foldAll(tx, folds, keep, errs); err != nil {
			return err
		}
		return errs[0] // nothing was written for a failed fold
	})
	return err
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
	err := f.db.Update(ctx, func(tx *Tx) error { return foldAll(tx, folds, keep, errs) })
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// funnelRow names one counter of the rollup, before it is made a key.
type funnelRow struct {
	key     store.FunnelKey
	counter string
}

// foldAll folds every fold in tx, in order, each as a Fold of its own
// would, and sets errs[i] for a fold that failed alone (its
// conversation's stored facts do not decode: nothing written for it, its
// mark kept). It reads each conversation's facts once and writes them
// once, and adds to each counter once with what all the folds counted:
// the folds of a batch share the few counters of a day's playbook, so a
// batch of a hundred turns writes each of those keys once instead of a
// hundred times. It returns a failure of the store.
func foldAll(tx *Tx, folds []store.FunnelFold, keep time.Duration, errs []error) error {
	type convFacts struct {
		seen map[string]int64
		bad  error
	}
	convs := make(map[string]*convFacts, len(folds))
	order := make([]string, 0, len(folds)) // the conversations to write, first fold first
	var counts map[funnelRow]int64
	var rows []funnelRow // counts' keys, first count first
	add := func(r funnelRow) {
		if counts == nil {
			counts = map[funnelRow]int64{}
		}
		if _, ok := counts[r]; !ok {
			rows = append(rows, r)
		}
		counts[r]++
	}
	var marks []string
	for i, x := range folds {
		errs[i] = nil // the batch may run again (group commit)
		c := convs[x.Conv]
		if c == nil {
			c = &convFacts{seen: map[string]int64{}}
			convs[x.Conv] = c
			if v, ok, err := tx.Get(K("fnc", x.Conv)); err != nil {
				return err
			} else if ok {
				if err := json.Unmarshal(v, &c.seen); err != nil {
					c.bad = errBadFacts{fmt.Errorf("funnel facts of %s: %w", x.Conv, err)}
				}
			}
			if c.bad == nil {
				order = append(order, x.Conv)
			}
		}
		if c.bad != nil {
			errs[i] = c.bad
			continue
		}
		for _, fact := range x.Facts {
			if _, ok := c.seen[fact.Name]; ok {
				continue
			}
			at := fact.At.UnixMilli()
			c.seen[fact.Name] = at
			add(funnelRow{x.Key, fact.Counter})
			if since, ok := c.seen[fact.Since]; ok && fact.Since != "" {
				add(funnelRow{x.Key, fact.Timing + "|" + store.FunnelBucket(at-since)})
			}
		}
		if x.Done != "" {
			marks = append(marks, x.Done)
		}
	}
	for _, r := range rows {
		k := K("fnr", r.key.Day, r.key.Playbook, r.key.Version, r.key.Variant, r.counter)
		if _, err := tx.Incr(k, counts[r]); err != nil {
			return err
		}
	}
	for _, conv := range order {
		b, err := json.Marshal(convs[conv].seen)
		if err != nil {
			return err
		}
		if err := tx.PutTTL(K("fnc", conv), b, keep); err != nil {
			return err
		}
	}
	for _, m := range marks {
		if err := dropMark(tx, m); err != nil {
			return err
		}
	}
	return nil
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
