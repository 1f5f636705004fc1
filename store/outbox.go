package store

import (
	"context"
	"time"
)

// OutboxEvent is one webhook event: its id (evt_...), type and JSON body.
type OutboxEvent struct {
	ID   string
	Type string
	Body string
}

// OutboxEntry is an event read from one shard of the outbox, not yet
// fanned out into deliveries. Ref is the engine's id of the entry.
type OutboxEntry struct {
	Shard int
	Ref   string
	Event OutboxEvent
}

// DeliveryState is one delivery (an event on its way to one webhook) as
// stored. Its id is the event id, ":", the subscription id.
type DeliveryState struct {
	Event, Type, Sub string
	State            string // pending, done, cancelled or dead
	Attempts         int
	FirstMs, LastMs  int64
	LastStatus       int
	LastError        string
}

// Finish is the outcome of one delivery attempt.
type Finish struct {
	// Outcome is "done", "cancelled", "retry" (due again at NextMs) or
	// "dead" (dead-lettered).
	Outcome   string
	NextMs    int64
	NowMs     int64
	Status    int
	Error     string
	Attempted bool
	// Keep is how long a finished delivery and its event are kept.
	Keep time.Duration
}

// Outbox is the webhook outbox: events in shards, each read by every
// process with a consumer group, fanned out into one delivery per
// subscription, leased to one process at a time, retried, dead-lettered
// and replayed. A delivery's shard is its event's, so every step on it
// touches one shard.
type Outbox interface {
	// Emit adds an event to the outbox.
	Emit(ctx context.Context, ev OutboxEvent) error
	// EmitOnce adds an event unless one with its id was added within keep;
	// it reports whether it added it.
	EmitOnce(ctx context.Context, ev OutboxEvent, keep time.Duration) (bool, error)

	// PutSubscription stores a webhook subscription's JSON under its id.
	PutSubscription(ctx context.Context, id, json string) error
	// DeleteSubscription removes one; false when there was none.
	DeleteSubscription(ctx context.Context, id string) (bool, error)
	// Subscriptions returns every subscription's JSON, in no order.
	Subscriptions(ctx context.Context) ([]string, error)
	// Subscription returns one subscription's JSON, or "".
	Subscription(ctx context.Context, id string) (string, error)

	// Shards is how many shards the outbox has (0 .. Shards()-1).
	Shards() int
	// Read returns up to count new events of a shard for consumer,
	// waiting up to block for one; none is not an error.
	Read(ctx context.Context, shard int, consumer string, count int, block time.Duration) ([]OutboxEntry, error)
	// TakeOver returns events of a shard another consumer read more than
	// minIdle ago and never fanned out (its process died), now the
	// caller's.
	TakeOver(ctx context.Context, shard int, consumer string, minIdle time.Duration, count int) ([]OutboxEntry, error)
	// FanOut turns an entry into one delivery per subscription id (none
	// for an event nobody wants), leases the new ones to token until
	// leaseMs, and removes the entry. It returns the ids of the deliveries
	// it made; one made before (a crash mid-way) is left as it is.
	FanOut(ctx context.Context, e OutboxEntry, subs []string, nowMs, leaseMs int64, token string) ([]string, error)
	// ClaimDue leases up to n deliveries of a shard due at nowMs to token
	// until leaseMs and returns their ids.
	ClaimDue(ctx context.Context, shard int, nowMs, leaseMs int64, n int, token string) ([]string, error)
	// Renew extends a lease token still holds; false when it lost it.
	Renew(ctx context.Context, id, token string, leaseMs int64) (bool, error)
	// Finish records an attempt's outcome if token still holds the lease;
	// false when it lost it (nothing is recorded then).
	Finish(ctx context.Context, id, token string, f Finish) (bool, error)
	// Delivery returns a delivery, or nil when there is none.
	Delivery(ctx context.Context, id string) (*DeliveryState, error)
	// EventBody returns the body of an event deliveries were made of, or
	// "" when it expired.
	EventBody(ctx context.Context, event string) (string, error)
	// Forget drops a delivery id from the due set and the leases (its
	// delivery expired or was finished by a replay).
	Forget(ctx context.Context, id string) error
	// Dead returns dead-lettered delivery ids, newest first, at most limit.
	Dead(ctx context.Context, limit int) ([]string, error)
	// Replay moves a dead delivery back, due at nowMs with its attempts
	// and retry window reset; false when it is not dead-lettered.
	Replay(ctx context.Context, id string, nowMs int64) (bool, error)
	// Due returns the ids of deliveries waiting to be sent (due now or
	// later, or under way), at most limit.
	Due(ctx context.Context, limit int) ([]string, error)
	// Backlog is how many events wait in the outbox, not yet fanned out.
	Backlog(ctx context.Context) (int64, error)
}
