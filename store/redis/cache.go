package redis

import (
	"sync"

	"github.com/playbook-dev/playbook/engine"
)

// sessionCache keeps the last session each conversation was written or
// read at, decoded, with its version, so a turn can run its step and write
// in one round trip without reading (or decoding) first. A hit is only a
// guess: the turn script checks the version and answers "stale" when
// another tab or process wrote since, and the turn then reads the session
// from Redis. The cache keeps its own copy of each session (engine's
// Session.Clone) and hands every turn a fresh copy, so concurrent turns,
// and the callers that keep using the session a turn returned, never share
// one. A session Clone cannot copy safely is kept as the JSON stored
// instead and decoded for each turn.
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
	sess    *engine.Session // the cache's own copy; nil: decode data
	data    []byte          // the JSON stored, when sess is nil
}

// session returns a copy of the cached session for a turn to change.
func (e cachedSession) session(id string) (*engine.Session, error) {
	if e.sess != nil {
		if c, ok := e.sess.Clone(); ok {
			return c, nil
		}
	}
	return decodeSession(id, e.data)
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

// put records version of conversation id, unless a newer one is cached:
// a copy of sess when Clone can make one, else data, the JSON stored.
func (c *sessionCache) put(id string, version int64, sess *engine.Session, data []byte) {
	if c == nil {
		return
	}
	e := cachedSession{version: version, data: data}
	if cp, ok := sess.Clone(); ok && cp != nil {
		storedTimes(cp)
		e.sess, e.data = cp, nil
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
	c.m[id] = e
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
