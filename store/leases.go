package store

import (
	"context"
	"errors"
	"time"
)

// ErrLeaseTTL is Leases.Take's error for a ttl that is not positive.
var ErrLeaseTTL = errors.New("store: a lease's ttl must be positive")

// Leases let one process of the fleet sharing a store do a piece of work
// an interval (the inbox's purge of expired chats): every process asks,
// the one that takes the lease does the work, the others find it taken.
// Times are the engine's own clock (Redis's, the embedded DB's).
type Leases interface {
	// Take takes lease name for ttl (> 0) and reports whether it got it:
	// true when the lease was free (never taken, or its ttl passed),
	// false while anyone holds it, the caller included. A lease is never
	// released: it ends ttl after it was taken, so a process that dies
	// holding it keeps it at most ttl, and whoever asks next takes it.
	// A ttl that is not positive is ErrLeaseTTL.
	Take(ctx context.Context, name string, ttl time.Duration) (bool, error)
}
