package embedded

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// commitCounters are the counter additions of one commit's calls
// (Tx.addCounter): a counter that many calls of a group commit add to (the
// funnel's rows, which every turn's fold adds to) is looked up once in the
// commit and written once at its end, instead of read and written again by
// every call.
//
// The DB keeps one (DB.counters, used by the committing leader only, under
// wmu), emptied before and after each commit: its map, its sums and its
// buffers keep their room, so a counter costs a commit one allocation (its
// key, in the map) however many calls add to it.
type commitCounters struct {
	sums map[string]int // index in list of each counter's sum, by key
	list []counterSum   // first added first, so the writes are in a fixed order
	adds []counterAdd   // the running call's additions, counted if it succeeds
	key  []byte         // a counter's key to write (write)
	fold []byte         // a counter's key being built (foldAll), for addCounter
	recs []byte         // the values written (write), hdr+8 bytes each
}

// counterSum is one counter of a commit: its stored value when first read
// and what the calls that succeeded added to it.
type counterSum struct {
	key   string
	n     int64 // the stored value (0: none, or expired)
	at    int64 // its expiry, Unix ns (0: none); kept, as Incr keeps it
	delta int64 // the additions of the calls that succeeded
}

// reset empties c for the next commit, keeping its room.
func (c *commitCounters) reset() {
	clear(c.sums)
	clear(c.list) // the keys, for the collector
	c.list, c.adds, c.recs = c.list[:0], c.adds[:0], c.recs[:0]
	if cap(c.list) > 4096 {
		*c = commitCounters{}
	}
}

// counterAdd is one addition of a call, counted once the call succeeds.
type counterAdd struct {
	sum   int // in commitCounters.list
	delta int64
}

// addCounter adds delta to the int64 counter at key (missing: 0), keeping
// its expiry, as Incr does, but without the new value: in a commit the
// counter is read once and written once after every call has run, so its
// value read in the same write transaction (Get, Incr) does not show the
// additions yet. Only for counters no write transaction reads: the
// funnel's rows. A call that fails adds nothing. A transaction of no
// commit (View) adds at once, as Incr. key may be reused after.
func (tx *Tx) addCounter(key []byte, delta int64) error {
	if tx.counters == nil {
		_, err := tx.Incr(key, delta)
		return err
	}
	if err := checkKey(key); err != nil {
		return err
	}
	c := tx.counters
	i, ok := c.sums[string(key)]
	if !ok {
		rec, err := tx.t.get(key)
		if err != nil {
			return err
		}
		s := counterSum{key: string(key)}
		if v, exp, ok := tx.live(rec); ok {
			if len(v) != 8 {
				return fmt.Errorf("embedded: key %q is not a counter", key)
			}
			s.n, s.at = int64(binary.BigEndian.Uint64(v)), exp
		}
		if c.sums == nil {
			c.sums = map[string]int{}
		}
		i = len(c.list)
		c.sums[s.key] = i
		c.list = append(c.list, s)
	}
	c.adds = append(c.adds, counterAdd{i, delta})
	return nil
}

// keepAdds counts the additions of tx's call, which succeeded.
func (tx *Tx) keepAdds() {
	if c := tx.counters; c != nil {
		for _, a := range c.adds {
			c.list[a.sum].delta += a.delta
		}
		c.adds = c.adds[:0]
	}
}

// dropAdds forgets the additions of tx's call, which failed.
func (tx *Tx) dropAdds() {
	if c := tx.counters; c != nil {
		c.adds = c.adds[:0]
	}
}

// write stores every counter a call of the commit added to, once. A
// counter's expiry is the one it had, so its expiry index entry stays.
// The values are slices of one buffer.
func (c *commitCounters) write(t kvTx) error {
	n := 0
	for i := range c.list {
		if c.list[i].delta != 0 {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	// The buffer is reused from commit to commit: a backend keeps a value
	// only until its transaction ends. Were it to grow here, the values
	// already written keep the old array.
	c.recs = slices.Grow(c.recs[:0], n*(hdr+8))
	for i := range c.list {
		s := &c.list[i]
		if s.delta == 0 {
			continue
		}
		off := len(c.recs)
		c.recs = binary.BigEndian.AppendUint64(c.recs, uint64(s.at))
		c.recs = binary.BigEndian.AppendUint64(c.recs, uint64(s.n+s.delta))
		c.key = append(c.key[:0], s.key...)
		if err := t.set(c.key, c.recs[off:len(c.recs):len(c.recs)]); err != nil {
			return err
		}
	}
	return nil
}
