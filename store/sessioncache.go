package store

import (
	"errors"
	"sync"

	"github.com/playbook-dev/playbook/engine"
)

// SessionCache keeps the last session each conversation was written or
// read at, decoded, with its version, so that a turn starts from a copy of
// it instead of a read and a JSON decode. A hit is only a guess: the
// engine's commit checks the version (the Redis turn script, the embedded
// engine's transaction) and answers stale when another tab or process
// wrote since, and the turn then drops the entry and reads the store.
//
// The cache keeps its own copy of each session (engine's Session.Clone) and
// hands every turn a fresh one, so concurrent turns, and the callers that
// keep using the session a turn returned, never share one. A session Clone
// cannot copy is kept as the bytes stored, when the engine gives them, and
// decoded for each turn; else it is not kept.
//
// It holds at most max entries; when full, a random one is dropped (Go's
// map order), which costs a later turn of that conversation one read. A nil
// *SessionCache keeps nothing.
type SessionCache struct {
	max     int
	prepare func(*engine.Session)
	mu      sync.Mutex
	m       map[string]CachedSession
}

// CachedSession is one conversation's entry.
type CachedSession struct {
	Version int64
	sess    *engine.Session // the cache's own copy; nil: decode data
	data    []byte          // the bytes stored, when sess is nil
}

// DefaultSessionCacheSize bounds a cache: the conversations under way of a
// busy process (a session is about 1 KB decoded).
const DefaultSessionCacheSize = 10000

// NewSessionCache returns a cache of at most max sessions; nil when max
// is not positive. prepare, if not nil, is applied to the cache's copy of
// each session put (to give it what a read of the store would, such as
// its times at the precision stored).
func NewSessionCache(max int, prepare func(*engine.Session)) *SessionCache {
	if max <= 0 {
		return nil
	}
	return &SessionCache{max: max, prepare: prepare, m: make(map[string]CachedSession, min(max, 1024))}
}

var errNotCached = errors.New("store: the session is not cached")

// Session returns a copy of the cached session for a turn to change;
// decode reads the bytes stored when only those were kept.
func (e CachedSession) Session(decode func([]byte) (*engine.Session, error)) (*engine.Session, error) {
	if e.sess != nil {
		if c, ok := e.sess.Clone(); ok && c != nil {
			return c, nil
		}
	}
	if e.data == nil || decode == nil {
		return nil, errNotCached
	}
	return decode(e.data)
}

// Get returns conversation id's entry.
func (c *SessionCache) Get(id string) (CachedSession, bool) {
	if c == nil {
		return CachedSession{}, false
	}
	c.mu.Lock()
	e, ok := c.m[id]
	c.mu.Unlock()
	return e, ok
}

// Put records version of conversation id, unless a newer one is cached: a
// copy of sess when Clone can make one, else data, the bytes stored (nil:
// the conversation is forgotten). The caller keeps sess and data.
func (c *SessionCache) Put(id string, version int64, sess *engine.Session, data []byte) {
	if c == nil {
		return
	}
	e := CachedSession{Version: version, data: data}
	if cp, ok := sess.Clone(); ok && cp != nil {
		if c.prepare != nil {
			c.prepare(cp)
		}
		e.sess, e.data = cp, nil
	} else if data == nil {
		c.Drop(id, -1)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[id]; ok {
		if old.Version > version {
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

// Drop forgets conversation id if the cache still holds version (or any
// version, when version is negative).
func (c *SessionCache) Drop(id string, version int64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if e, ok := c.m[id]; ok && (version < 0 || e.Version == version) {
		delete(c.m, id)
	}
	c.mu.Unlock()
}

// Len is how many conversations are cached.
func (c *SessionCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
