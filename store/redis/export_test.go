package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// CrashAfter makes Apply stop as a process killed there would: 1 after the
// plan is claimed, 2 after the new records are written, 3 after the index
// entries and changed records, 4 after the lists, feeds and events (before
// the key is marked done); 0 never.
func (c *CRM) CrashAfter(n int) { c.crashAfter = n }

// MigrateFailAfter makes MigrateLegacy stop after n steps, each step a key
// or an outbox entry written under its new name and not yet deleted from
// the old layout: as a process killed there; 0 never.
func MigrateFailAfter(o *MigrateOptions, n int) { o.failAfter = n }

// ErrMigrationStopped is what a migration stopped by MigrateFailAfter
// answers.
var ErrMigrationStopped = errMigrationStopped

// IDLess compares two entry ids as Redis compares stream ids.
func IDLess(a, b string) bool { return entryKey(a).less(entryKey(b)) }

// CoalescerQueued is how many commands wait in c's queue (a pipeline's
// count each).
func CoalescerQueued(c *Coalescer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// Slot is Redis Cluster's hash slot of a key's tag, as this package
// computes it.
var Slot = slot

// IsPlacedSlot reports whether slot takes placed ids.
func IsPlacedSlot(slot uint16) bool { return placedShard[slot%clusterSlots] >= 0 }

// PlacedSlots is how many slots take placed ids.
func PlacedSlots() int {
	n := 0
	for _, s := range placedShard {
		if s >= 0 {
			n++
		}
	}
	return n
}

// LoadScripts loads every script (on every master of a Cluster), as
// serve's first Ping does, so that no NOSCRIPT try is counted.
func LoadScripts(ctx context.Context, rdb goredis.UniversalClient) error {
	return loadScripts(ctx, rdb)
}

// TimersOf returns the timer queue on the client and prefix of an inbox.
func TimersOf(in *Inbox) store.Timers { return New(in.rdb, Options{Prefix: in.p}).Timers() }

// CoalescerWaiting is how many callers (a command, or a pipeline) wait in
// c's queue.
func CoalescerWaiting(c *Coalescer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// PlacedShardOf is the placed shard of a conversation id, -1 for none.
var PlacedShardOf = placedShardOf

// SetBusChecks sets how long b's listeners wait without a message before
// they ping (on one node and on a Cluster's shard connections alike) and
// how long for the pong; for listeners opened afterwards.
func SetBusChecks(b *Bus, every, pong time.Duration) {
	b.checks = busChecks{every: every, shardEvery: every, pong: pong}
}

// LiveArg is the turn script's live argument of channel ch (liveArg).
func LiveArg(s *Store, ch string) string { return s.liveArg(ch, "") }

// MarkKey is the pending set of a mark (conversation|nonce).
func MarkKey(s *Store, mark string) string { return s.markKey(mark) }

// SetFleetWait sets how long a fleet member's listener waits for Redis to
// confirm its patterns before it subscribes the pattern as written, and
// returns the previous wait.
func SetFleetWait(d time.Duration) time.Duration {
	old := fleetWait
	fleetWait = d
	return old
}

// JoinFields is a record's fields as the handOff script compares them.
var JoinFields = joinFields
