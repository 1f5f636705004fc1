package embedded

import (
	"encoding/binary"
	"fmt"
)

// The data directory's key layout has a version, stored at layoutKey (8
// bytes, big-endian). Open migrates an older layout to the current one in
// a single transaction before anything else reads the DB: a crash during
// the migration leaves the old layout whole (the transaction is not
// committed), and the next Open starts it again. A directory whose layout
// is newer than this build's is refused.
//
//	1 (no layout key): conversations in three key spaces, K("s", conv),
//	  K("m", conv, ms, seq) and K("d", conv, clientID).
//	2: a conversation's keys under K("c", conv): K("c", conv, "s"),
//	  K("c", conv, "m", ms, seq), K("c", conv, "d", clientID), so one
//	  turn's writes share a B-tree leaf page instead of touching three
//	  distant ones (see Sessions).
const layoutVersion = 2

var layoutKey = K("layout")

// migrateChunk is how many keys the migration moves per scan, bounding
// what it holds in memory at once.
const migrateChunk = 1000

// migrateLayout brings the store's keys to layoutVersion.
func migrateLayout(store kv) error {
	return store.update(func(t kvTx) error {
		v, err := t.get(layoutKey)
		if err != nil {
			return err
		}
		version := uint64(1)
		if v != nil {
			if len(v) != 8 {
				return fmt.Errorf("bad layout version %q", v)
			}
			version = binary.BigEndian.Uint64(v)
		}
		switch {
		case version == layoutVersion:
			return nil
		case version > layoutVersion:
			return fmt.Errorf("the data directory has key layout %d, newer than this version of playbook reads (%d): use a newer playbook", version, layoutVersion)
		}
		if err := migrateConversations(t); err != nil {
			return fmt.Errorf("migrating the key layout from %d to %d: %w", version, layoutVersion, err)
		}
		return t.set(layoutKey, binary.BigEndian.AppendUint64(nil, layoutVersion))
	})
}

// migrateConversations moves layout 1's "s", "m" and "d" keys under
// K("c", conv), values (expiry header included) unchanged, and moves
// the expiry index entries of the sessions with them.
func migrateConversations(t kvTx) error {
	moves := []struct {
		space string
		parts int
		key   func(p []any) []byte
	}{
		{"s", 2, func(p []any) []byte { return K("c", p[1].(string), "s") }},
		{"m", 4, func(p []any) []byte { return K("c", p[1].(string), "m", p[2].(int64), p[3].(int64)) }},
		{"d", 3, func(p []any) []byte { return K("c", p[1].(string), "d", p[2].(string)) }},
	}
	for _, m := range moves {
		prefix := K(m.space)
		end := PrefixEnd(prefix)
		for {
			type kvPair struct{ k, v []byte }
			var chunk []kvPair
			err := t.scan(prefix, end, false, func(k, v []byte) (bool, error) {
				chunk = append(chunk, kvPair{append([]byte(nil), k...), append([]byte(nil), v...)})
				return len(chunk) < migrateChunk, nil
			})
			if err != nil {
				return err
			}
			if len(chunk) == 0 {
				break
			}
			for _, c := range chunk {
				p, err := SplitKey(c.k)
				if err != nil || len(p) != m.parts || !allOf(p[1:], m.space) {
					return fmt.Errorf("unexpected key %q in key space %q", c.k, m.space)
				}
				nk := m.key(p)
				if err := t.set(nk, c.v); err != nil {
					return err
				}
				if len(c.v) >= hdr {
					if at := int64(binary.BigEndian.Uint64(c.v)); at != 0 {
						if err := t.del(expKey(at, c.k)); err != nil {
							return err
						}
						if err := t.set(expKey(at, nk), nil); err != nil {
							return err
						}
					}
				}
				if err := t.del(c.k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// allOf checks the types of a layout 1 key's parts after its space.
func allOf(p []any, space string) bool {
	want := map[string][]string{"s": {"s"}, "m": {"s", "i", "i"}, "d": {"s", "s"}}[space]
	for i, x := range p {
		switch x.(type) {
		case string:
			if want[i] != "s" {
				return false
			}
		case int64:
			if want[i] != "i" {
				return false
			}
		default:
			return false
		}
	}
	return true
}
