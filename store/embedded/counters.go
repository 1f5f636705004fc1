package embedded

import (
	"encoding/binary"
	"fmt"
)

// commitCounters are the counter additions of one commit's calls
// (Tx.addCounter): a counter that many calls of a group commit add to (the
// funnel's rows, which every turn's fold adds to) is looked up once in the
// commit and written once at its end, instead of read and written again by
// every call.
type commitCounters struct {
	sums  map[string]*counterSum
	order []*counterSum // first added first, so the writes are in a fixed order
}

// counterSum is one counter of a commit: its stored value when first read
// and what the calls that succeeded added to it.
type counterSum struct {
	key   []byte
	n     int64 // the stored value (0: none, or expired)
	at    int64 // its expiry, Unix ns (0: none); kept, as Incr keeps it
	delta int64 // the additions of the calls that succeeded
}

// counterAdd is one addition of a call, counted once the call succeeds.
type counterAdd struct {
	sum   *counterSum
	delta int64
}

// addCounter adds delta to the int64 counter at key (missing: 0), keeping
// its expiry, as Incr does, but without the new value: in a commit the
// counter is read once and written once after every call has run, so its
// value read in the same write transaction (Get, Incr) does not show the
// additions yet. Only for counters no write transaction reads: the
// funnel's rows. A call that fails adds nothing. A transaction of no
// commit (View) adds at once, as Incr.
func (tx *Tx) addCounter(key []byte, delta int64) error {
	if tx.counters == nil {
		_, err := tx.Incr(key, delta)
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	s := tx.counters.sums[string(key)]
	if s == nil {
		rec, err := tx.t.get(key)
		if err != nil {
			return err
		}
		s = &counterSum{key: append([]byte(nil), key...)}
		if v, exp, ok := tx.live(rec); ok {
			if len(v) != 8 {
				return fmt.Errorf("embedded: key %q is not a counter", key)
			}
			s.n, s.at = int64(binary.BigEndian.Uint64(v)), exp
		}
		if tx.counters.sums == nil {
			tx.counters.sums = map[string]*counterSum{}
		}
		tx.counters.sums[string(key)] = s
		tx.counters.order = append(tx.counters.order, s)
	}
	tx.adds = append(tx.adds, counterAdd{s, delta})
	return nil
}

// keepAdds counts the additions of tx's call, which succeeded.
func (tx *Tx) keepAdds() {
	for _, a := range tx.adds {
		a.sum.delta += a.delta
	}
	tx.adds = nil
}

// write stores every counter a call of the commit added to, once. A
// counter's expiry is the one it had, so its expiry index entry stays.
func (c *commitCounters) write(t kvTx) error {
	for _, s := range c.order {
		if s.delta == 0 {
			continue
		}
		rec := make([]byte, hdr+8)
		binary.BigEndian.PutUint64(rec, uint64(s.at))
		binary.BigEndian.PutUint64(rec[hdr:], uint64(s.n+s.delta))
		if err := t.set(s.key, rec); err != nil {
			return err
		}
	}
	return nil
}
