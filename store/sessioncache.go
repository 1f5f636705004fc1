package store

import (
	"errors"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/bounded"
)

// SessionCache keeps the last session each conversation was written or
// read at, decoded, with its version, so that a turn starts from a copy of
// it instead of a read and a JSON decode. A hit is only a guess: the
// engine's commit checks the version (the Redis turn script, the embedded
// engine's transaction) and answers stale when another tab or process
// wrote since, and the turn then drops the entry and reads the store.
//
// The cache hands every turn a fresh copy of the session it holds
// (engine's Session.Clone), so concurrent turns never share one. What it
// holds is its own copy (Put), or the session a turn's step returned
// (Keep: a store's Turn, whose callers never change that session after
// the turn; no copy). A session Clone cannot copy is kept as the bytes
// stored, when the engine gives them, and decoded for each turn; else it
// is not kept.
//
// It holds at most max entries; when full, a random one is dropped (Go's
// map order), which costs a later turn of that conversation one read. A nil
// *SessionCache keeps nothing.
type SessionCache struct {
	prepare func(*engine.Session)
	m       *bounded.Map[string, CachedSession]
}

// CachedSession is one conversation's entry.
type CachedSession struct {
	Version int64
	sess    *engine.Session // never changed; nil: decode data
	data    []byte          // the bytes stored, when sess is nil
	prepare func(*engine.Session)
}

// DefaultSessionCacheSize bounds a cache: the conversations under way of a
// busy process (a session is about 1 KB decoded).
const DefaultSessionCacheSize = 10000

// NewSessionCache returns a cache of at most max sessions; nil when max
// is not positive. prepare, if not nil, is applied to each copy a turn is
// handed (to give it what a read of the store would, such as its times
// at the precision stored).
func NewSessionCache(max int, prepare func(*engine.Session)) *SessionCache {
	if max <= 0 {
		return nil
	}
	return &SessionCache{prepare: prepare, m: bounded.New[string, CachedSession](max)}
}

var errNotCached = errors.New("store: the session is not cached")

// Session returns a copy of the cached session for a turn to change;
// decode reads the bytes stored when only those were kept.
func (e CachedSession) Session(decode func([]byte) (*engine.Session, error)) (*engine.Session, error) {
	if e.sess != nil {
		if c, ok := e.sess.Clone(); ok && c != nil {
			if e.prepare != nil {
				e.prepare(c)
			}
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
	return c.m.Get(id)
}

// Put records version of conversation id, unless a newer one is cached: a
// copy of sess when Clone can make one, else data, the bytes stored (nil:
// the conversation is forgotten). The caller keeps sess; kept reports
// whether the cache holds on to data (the caller must not change it then).
func (c *SessionCache) Put(id string, version int64, sess *engine.Session, data []byte) (kept bool) {
	if c == nil {
		return false
	}
	cp, ok := sess.Clone()
	return c.put(id, version, cp, ok, data)
}

// Keep is Put that holds sess itself, not a copy: the caller hands it
// over and never changes it again (a turn's step's session once the turn
// is stored). kept: as Put's.
func (c *SessionCache) Keep(id string, version int64, sess *engine.Session, data []byte) (kept bool) {
	if c == nil {
		return false
	}
	return c.put(id, version, sess, sess.Clonable(), data)
}

func (c *SessionCache) put(id string, version int64, sess *engine.Session, ok bool, data []byte) bool {
	e := CachedSession{Version: version, data: data, prepare: c.prepare}
	if ok && sess != nil {
		e.sess, e.data = sess, nil
	} else if data == nil {
		c.Drop(id, -1)
		return false
	}
	c.m.PutIf(id, e, func(old CachedSession) bool { return old.Version <= version })
	return e.data != nil
}

// Drop forgets conversation id if the cache still holds version (or any
// version, when version is negative).
func (c *SessionCache) Drop(id string, version int64) {
	if c == nil {
		return
	}
	c.m.DeleteIf(id, func(e CachedSession) bool { return version < 0 || e.Version == version })
}

// Len is how many conversations are cached.
func (c *SessionCache) Len() int {
	if c == nil {
		return 0
	}
	return c.m.Len()
}
