package embedded

import (
	"sync"

	"github.com/playbook-dev/playbook/engine"
)

// sessionCache keeps, decoded, the last session each conversation was
// committed at, with its version, so that a turn starts from a copy of it
// instead of a read transaction and a JSON decode. A hit is only a guess,
// as in store/redis: Commit checks the version inside its transaction and
// answers ErrStale when the stored session is not the one the turn
// started from (another Sessions on the DB wrote, the conversation was
// deleted or expired), and Turn then drops the entry and reads the store.
// The cache keeps its own copy (engine's Session.Clone) and hands every
// turn a fresh one; a session Clone cannot copy is not cached.
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
	sess    *engine.Session // the cache's own copy
}

// defaultCacheSize bounds the cache: the conversations under way of a
// busy process (a session is about 1 KB decoded).
const defaultCacheSize = 10000

func newSessionCache(max int) *sessionCache {
	return &sessionCache{max: max, m: make(map[string]cachedSession, min(max, 1024))}
}

// get returns a copy of conversation id's cached session and its version.
func (c *sessionCache) get(id string) (*engine.Session, int64, bool) {
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	if !ok {
		return nil, 0, false
	}
	cp, ok := e.sess.Clone()
	if !ok || cp == nil {
		return nil, 0, false
	}
	return cp, e.version, true
}

// put records sess as conversation id's session at version, unless a
// newer version is cached. sess is copied; the caller keeps it.
func (c *sessionCache) put(id string, version int64, sess *engine.Session) {
	cp, ok := sess.Clone()
	if !ok || cp == nil {
		c.drop(id)
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
	c.m[id] = cachedSession{version: version, sess: cp}
}

// drop forgets conversation id.
func (c *sessionCache) drop(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

func (c *sessionCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
