package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Funnels keeps the funnel rollup in a DB (store.Funnels): what each
// conversation folded, K("fnc", conv) -> its facts and when (JSON,
// Unix ms), expiring keep after its last fold; and the counters, K("fnr", day, playbook,
// version, variant, counter) -> count, kept for good. A conversation
// whose session records what the funnel counted of it
// (engine.Session.Funnel: its folds Counted, in its turns' commits) has
// no K("fnc", conv).
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

// appendRowKey appends a counter's key, K("fnr", day, playbook, version,
// variant, counter), to b (nil: a new key of its size).
func appendRowKey(b []byte, key store.FunnelKey, counter string) []byte {
	if b == nil {
		b = make([]byte, 0, 2*6+3+len(key.Day)+len(key.Playbook)+len(key.Version)+len(key.Variant)+len(counter))
	}
	b = appendString(b, "fnr")
	b = appendString(b, key.Day)
	b = appendString(b, key.Playbook)
	b = appendString(b, key.Version)
	b = appendString(b, key.Variant)
	return appendString(b, counter)
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
		rec  []byte // the stored record read (nil: none), for the write
		bad  error
	}
	var convs map[string]*convFacts
	var order []string // the conversations to write, first fold first
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
		if x.Counted {
			// The caller knew these are new (a turn's, committed at the
			// version it read): no record of the conversation's facts.
			for _, fact := range x.Facts {
				if c := tx.counters; c != nil {
					// In a commit: addCounter sums the additions of
					// the commit's calls itself; the key is built in
					// a buffer the commit reuses.
					c.fold = appendRowKey(c.fold[:0], x.Key, fact.Counter)
					if err := tx.addCounter(c.fold, 1); err != nil {
						return err
					}
					continue
				}
				add(funnelRow{x.Key, fact.Counter})
			}
			if x.Done != "" {
				marks = append(marks, x.Done)
			}
			continue
		}
		c := convs[x.Conv]
		if c == nil {
			if convs == nil {
				convs = make(map[string]*convFacts, len(folds))
			}
			c = &convFacts{seen: map[string]int64{}}
			convs[x.Conv] = c
			rec, err := tx.t.get(K("fnc", x.Conv))
			if err != nil {
				return err
			}
			c.rec = rec
			if v, _, ok := tx.live(rec); ok {
				if err := parseFacts(v, c.seen); err != nil {
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
		k := appendRowKey(nil, r.key, r.counter)
		// Every turn's fold adds to the same few rows: in a group commit
		// each row is read and written once (addCounter).
		if err := tx.addCounter(k, counts[r]); err != nil {
			return err
		}
	}
	for _, conv := range order {
		b, err := appendFacts(nil, convs[conv].seen)
		if err != nil {
			return err
		}
		if err := tx.putExpiringOver(K("fnc", conv), b, tx.now.Add(keep), convs[conv].rec); err != nil {
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

// appendFacts appends seen as encoding/json encodes a map[string]int64
// (keys sorted, HTML characters escaped), byte for byte, without
// reflection: the fold of every turn writes its conversation's facts.
// Names that need escaping go through encoding/json.
func appendFacts(b []byte, seen map[string]int64) ([]byte, error) {
	names := make([]string, 0, len(seen))
	for k := range seen {
		if !plainJSON(k) {
			enc, err := json.Marshal(seen)
			return append(b, enc...), err
		}
		names = append(names, k)
	}
	slices.Sort(names)
	b = append(b, '{')
	for i, k := range names {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, k...)
		b = append(b, '"', ':')
		b = strconv.AppendInt(b, seen[k], 10)
	}
	return append(b, '}'), nil
}

// plainJSON reports whether encoding/json writes s as it is between
// quotes: printable ASCII, no quote, backslash or HTML character.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// parseFacts decodes what appendFacts (or encoding/json) wrote into seen;
// anything but the plain form it writes goes through encoding/json.
func parseFacts(b []byte, seen map[string]int64) error {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return json.Unmarshal(b, &seen)
	}
	s := b[1 : len(b)-1]
	for len(s) > 0 {
		// "name":number, then a comma or the end.
		if s[0] != '"' {
			return json.Unmarshal(b, &seen)
		}
		q := bytes.IndexByte(s[1:], '"')
		if q < 0 || len(s) < q+3 || s[q+2] != ':' {
			return json.Unmarshal(b, &seen)
		}
		name := s[1 : q+1]
		s = s[q+3:]
		end := bytes.IndexByte(s, ',')
		num := s
		if end >= 0 {
			num, s = s[:end], s[end+1:]
			if len(s) == 0 {
				return json.Unmarshal(b, &seen) // a trailing comma
			}
		} else {
			s = nil
		}
		n, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || !jsonInt(num) || bytes.IndexByte(name, '\\') >= 0 {
			return json.Unmarshal(b, &seen)
		}
		seen[string(name)] = n
	}
	return nil
}

// jsonInt reports whether b is an integer as JSON writes one: an optional
// minus, then 0 or digits not starting with 0.
func jsonInt(b []byte) bool {
	if len(b) > 0 && b[0] == '-' {
		b = b[1:]
	}
	if len(b) == 0 || b[0] == '0' && len(b) > 1 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
