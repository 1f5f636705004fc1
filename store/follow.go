package store

import (
	"context"
	"sync/atomic"
	"time"
)

// Follows is a Bus whose turns are published only when another process
// follows the conversation (the Redis bus of an engine: a registry of the
// processes that follow each conversation, in the conversation's own
// slot). The hub tells it how many local followers each conversation's
// channel has; a conversation nobody follows elsewhere is not published,
// and this process's one follower gets its own turn from the turn itself
// (WithSelfDelivered). Signals and the inbox channel publish as before.
type Follows interface {
	// Follow records that this process has n local followers of the
	// conversation channel ch: 0 removes this process from the registry,
	// 1 is one follower (its own turns need no publish), more is any
	// number. The registration is stored when it returns.
	Follow(ctx context.Context, ch string, n int) error
	// FollowAll records every channel's count at once (after a Redis
	// break, or to renew the registrations before they expire).
	FollowAll(ctx context.Context, counts map[string]int) error
}

// FollowKeep is how long a registration is kept without being renewed:
// a killed process's is gone after it (until then it costs publishes
// nobody reads). A hub renews its registrations every FollowKeep/4.
const FollowKeep = 24 * time.Hour

// Delivered marks a turn whose caller delivers the turn's entries to its
// one local follower itself (a widget's own turn, WithSelfDelivered).
type Delivered struct{ done atomic.Bool }

type deliveredKey struct{}

// WithSelfDelivered returns ctx for a turn (or a start) whose caller
// follows the conversation and delivers the turn's own entries itself: an
// engine with a follower registry (Follows) then publishes the turn only
// when another follower is registered. A start so made registers this
// process as the conversation's one follower in the same write (the
// caller then attaches with Hub.AttachRegistered). It applies to the
// first turn stored with ctx only, not to turns made later under it.
func WithSelfDelivered(ctx context.Context) context.Context {
	return context.WithValue(ctx, deliveredKey{}, &Delivered{})
}

// SelfDelivered reports whether the next turn stored with ctx is
// self-delivered (WithSelfDelivered) and not yet used; Used marks it
// used.
func SelfDelivered(ctx context.Context) *Delivered {
	d, _ := ctx.Value(deliveredKey{}).(*Delivered)
	if d == nil || d.done.Load() {
		return nil
	}
	return d
}

// Use marks d used: later turns under the same context publish as any.
func (d *Delivered) Use() {
	if d != nil {
		d.done.Store(true)
	}
}
