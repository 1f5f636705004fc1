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
	return f.db.Update(ctx, func(tx *Tx) error {
		ck := K("fnc", conv)
		seen := map[string]int64{}
		if v, ok, err := tx.Get(ck); err != nil {
			return err
		} else if ok {
			if err := json.Unmarshal(v, &seen); err != nil {
				return fmt.Errorf("funnel facts of %s: %w", conv, err)
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
	})
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
