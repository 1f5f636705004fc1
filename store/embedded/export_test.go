package embedded

import "context"

// ExpiryIndexLen is how many expiry index entries db holds.
func ExpiryIndexLen(db *DB) int {
	n := 0
	_ = db.View(context.Background(), func(tx *Tx) error {
		return tx.t.scan(expIndex, PrefixEnd(expIndex), false, func(_, _ []byte) (bool, error) { n++; return true, nil })
	})
	return n
}
