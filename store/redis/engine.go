package redis

import (
	"context"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Engine is the Redis engine's store.Engine: every domain on one Redis (or
// Cluster) under one key prefix.
type Engine struct {
	rdb    goredis.UniversalClient
	prefix string
	now    func() time.Time
	// versionOK is set once CheckVersion passed (shared by WithClock's
	// copies).
	versionOK *atomic.Bool
	// prev is each visitor's conversations as this process last saw them,
	// shared by the inbox's Start and the sessions' CreateStarted (on a
	// Cluster both write a returning visitor's record with it, checked by
	// a read in the same round trip).
	prev *previousCache
	// fleet is the process's: its listener's fleet subscriptions tell its
	// turns when they may be quiet (fleet.go).
	fleet *fleet
}

var _ store.Engine = (*Engine)(nil)

// NewEngine returns the engine of rdb, every key starting with prefix
// (default "pb:").
func NewEngine(rdb goredis.UniversalClient, prefix string) *Engine {
	if prefix == "" {
		prefix = "pb:"
	}
	return &Engine{rdb: rdb, prefix: prefix, now: time.Now, versionOK: new(atomic.Bool), prev: newPreviousCache(previousCacheSize), fleet: newFleet()}
}

// WithClock returns the engine with now as its clock (default time.Now):
// what its stores stamp (pending marks, migrated canned responses) is read
// on it. Give it the clock of the services that use the engine.
func (e *Engine) WithClock(now func() time.Time) *Engine {
	c := *e
	if now == nil {
		now = time.Now
	}
	c.now = now
	return &c
}

// Client is the engine's Redis client.
func (e *Engine) Client() goredis.UniversalClient { return e.rdb }

func (e *Engine) Sessions(opts store.SessionOptions) store.SessionStore {
	now := opts.Now
	if now == nil {
		now = e.now
	}
	st := New(e.rdb, Options{Prefix: e.prefix, TTL: opts.TTL, Pending: opts.Pending, PendingFolded: opts.PendingFolded, PendingCreate: opts.PendingCreate, Now: now})
	st.inbox.prev = e.prev
	st.fleet = e.fleet
	return st
}
func (e *Engine) Timers() store.Timers { return New(e.rdb, Options{Prefix: e.prefix}).Timers() }
func (e *Engine) Programs(ttl time.Duration) store.Programs {
	return New(e.rdb, Options{Prefix: e.prefix, TTL: ttl}).Programs()
}
func (e *Engine) Bus() store.Bus         { return newEngineBus(e.rdb, e.fleet) }
func (e *Engine) Secrets() store.Secrets { return NewSecrets(e.rdb, e.prefix) }
func (e *Engine) Inbox() store.InboxEngine {
	in := NewInbox(e.rdb, e.prefix)
	in.now = e.now
	in.prev = e.prev
	return in
}
func (e *Engine) CRM() store.CRMEngine   { return NewCRM(e.rdb, e.prefix) }
func (e *Engine) Mail() store.MailQuota  { return NewMailQuota(e.rdb, e.prefix) }
func (e *Engine) Funnels() store.Funnels { return NewFunnels(e.rdb, e.prefix) }
func (e *Engine) Leases() store.Leases   { return NewLeases(e.rdb, e.prefix) }

// Ping implements store.Engine: Ready, and until it once passed,
// CheckVersion, then every script loaded on every master (loadScripts,
// once: a failure to load, such as an ACL without SCRIPT, is not Redis's
// unreadiness, and a script missing on a node is sent whole there).
func (e *Engine) Ping(ctx context.Context) error {
	if err := Ready(ctx, e.rdb); err != nil {
		return err
	}
	if e.versionOK.Load() {
		return nil
	}
	if err := CheckVersion(ctx, e.rdb, e.prefix); err != nil {
		return err
	}
	e.versionOK.Store(true)
	_ = loadScripts(ctx, e.rdb)
	return nil
}
