// Package bounded is a map of at most a given number of entries, for the
// caches of a process (decoded sessions, visitors' earlier conversations):
// when it is full, putting a new key drops a random entry (Go's map
// order), which costs the dropped key's next user one read of the store.
package bounded

import "sync"

// Map is safe for concurrent use. A nil *Map keeps nothing: Get finds
// nothing, Put and Delete do nothing.
type Map[K comparable, V any] struct {
	max int
	mu  sync.Mutex
	m   map[K]V
}

// New returns a Map of at most max entries; nil when max is not positive.
func New[K comparable, V any](max int) *Map[K, V] {
	if max <= 0 {
		return nil
	}
	return &Map[K, V]{max: max, m: make(map[K]V, min(max, 1024))}
}

// Get returns k's value.
func (m *Map[K, V]) Get(k K) (V, bool) {
	if m == nil {
		var zero V
		return zero, false
	}
	m.mu.Lock()
	v, ok := m.m[k]
	m.mu.Unlock()
	return v, ok
}

// Put sets k to v.
func (m *Map[K, V]) Put(k K, v V) { m.PutIf(k, v, nil) }

// PutIf sets k to v, unless k holds a value and replace (when not nil)
// says not to replace it; the test and the write are one step.
func (m *Map[K, V]) PutIf(k K, v V, replace func(old V) bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.m[k]; ok {
		if replace != nil && !replace(old) {
			return
		}
	} else if len(m.m) >= m.max {
		for x := range m.m {
			delete(m.m, x)
			break
		}
	}
	m.m[k] = v
}

// Delete forgets k.
func (m *Map[K, V]) Delete(k K) { m.DeleteIf(k, nil) }

// DeleteIf forgets k if del (when not nil) says so of its value; the test
// and the delete are one step.
func (m *Map[K, V]) DeleteIf(k K, del func(V) bool) {
	if m == nil {
		return
	}
	m.mu.Lock()
	if v, ok := m.m[k]; ok && (del == nil || del(v)) {
		delete(m.m, k)
	}
	m.mu.Unlock()
}

// Len is how many entries the map holds.
func (m *Map[K, V]) Len() int {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.m)
}
