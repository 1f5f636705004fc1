package redis

// CrashAfter makes Apply stop as a process killed there would: 1 after the
// plan is claimed, 2 after the new records are written, 3 after the index
// entries and changed records, 4 after the lists, feeds and events (before
// the key is marked done); 0 never.
func (c *CRM) CrashAfter(n int) { c.crashAfter = n }
