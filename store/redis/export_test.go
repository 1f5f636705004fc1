package redis

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

// CoalescerQueued is how many commands wait in c's queue.
func CoalescerQueued(c *Coalescer) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}
