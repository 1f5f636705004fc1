package store

import (
	"context"
	"time"
)

// SessionStore is an engine's conversations: turns and pending marks.
type SessionStore interface {
	Sessions
	PendingMarks
}

// Engine is one data set of a storage engine, with every domain on it:
// what a server process is built on. store/redis and store/embedded each
// have one (redisstore.NewEngine, embedded.NewEngine).
type Engine interface {
	// Sessions returns the conversations, with opts.
	Sessions(opts SessionOptions) SessionStore
	// Timers returns the timer queue.
	Timers() Timers
	// Programs returns the playbook versions, kept ttl after their last
	// Save or Keep.
	Programs(ttl time.Duration) Programs
	// Bus returns the pub/sub bus.
	Bus() Bus
	// Secrets returns the shared token secrets.
	Secrets() Secrets
	// Inbox returns the inbox: queues, agents, presence, canned responses.
	Inbox() InboxEngine
	// CRM returns the CRM records and the webhook outbox.
	CRM() CRMEngine
	// Mail returns the transcript-mail counts.
	Mail() MailQuota
	// Funnels returns the funnel rollup.
	Funnels() Funnels
	// Leases returns the leases of work one process of the fleet does an
	// interval.
	Leases() Leases
	// Ping reports whether the engine answers.
	Ping(ctx context.Context) error
}

// Observer hears of an engine's round trips to its storage, for metrics
// (internal/metrics.StoreObserver is one). Engines call it from any
// goroutine; it must be quick and safe for concurrent use.
type Observer interface {
	// RoundTrip is one round trip of kind op (redis: "command" or
	// "pipeline"; embedded: "read" or "commit") that took d; err is set
	// when the storage itself failed (a lost connection, a timeout, a
	// failed commit), never for a missing key or a refused change.
	RoundTrip(op string, d time.Duration, err error)
}
