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

// Waiting is how many Update and Batch calls wait for the next commit.
func Waiting(db *DB) int {
	db.bmu.Lock()
	defer db.bmu.Unlock()
	return len(db.pending)
}
