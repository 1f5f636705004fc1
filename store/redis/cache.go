package redis

import "sync"

// sessionCache keeps the last session each conversation was written or
// read at, as the JSON stored and its version, so a turn can run its step
// and write in one round trip without reading first. A hit is only a guess:
// the turn script checks the version and answers "stale" when another tab
// or process wrote since, and the turn then reads the session from Redis.
// Entries are immutable bytes, decoded afresh for every turn, so concurrent
// turns never share a session.
//
// It holds at most max entries; when full, a random one is dropped (Go's
// map order), which costs a later turn of that conversation one read.
type sessionCache struct {
	max int
	mu  sync.Mutex
	m   map[string]cachedSession
}

type cachedSession struct {
	version int64
	data    []byte
}

func newSessionCache(max int) *sessionCache {
	if max <= 0 {
		return nil
	}
	return &sessionCache{max: max, m: make(map[string]cachedSession, min(max, 1024))}
}

func (c *sessionCache) get(id string) (cachedSession, bool) {
	if c == nil {
		return cachedSession{}, false
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	return e, ok
}

// put records version of conversation id, unless a newer one is cached.
func (c *sessionCache) put(id string, version int64, data []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		if e.version > version {
			return
		}
	} else if len(c.m) >= c.max {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = cachedSession{version: version, data: data}
}

// drop forgets conversation id if the cache still holds version (or any
// version, when version is negative).
func (c *sessionCache) drop(id string, version int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if e, ok := c.m[id]; ok && (version < 0 || e.version == version) {
		delete(c.m, id)
	}
	c.mu.Unlock()
}

func (c *sessionCache) len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
