package embedded

import (
	"context"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Leases are a DB's leases (store.Leases), kept in memory on the DB's
// clock: one process holds the DB, so its handles are the whole fleet, and
// nothing is written to disk.
type Leases struct{ db *DB }

var _ store.Leases = (*Leases)(nil)

// NewLeases returns the leases of db.
func NewLeases(db *DB) *Leases { return &Leases{db: db} }

// Take implements store.Leases.
func (l *Leases) Take(_ context.Context, name string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, store.ErrLeaseTTL
	}
	now := l.db.now()
	l.db.lmu.Lock()
	defer l.db.lmu.Unlock()
	if end, ok := l.db.leases[name]; ok && now.Before(end) {
		return false, nil
	}
	if l.db.leases == nil {
		l.db.leases = map[string]time.Time{}
	}
	l.db.leases[name] = now.Add(ttl)
	return true, nil
}
