package store_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

// TestSessionCacheVersionsAndCopies: a turn gets its own copy; an older
// version never replaces a newer one; Drop of a version another turn
// already replaced leaves the newer one; the cache stays within its size;
// prepare sees each turn's copy, not the caller's.
func TestSessionCacheVersionsAndCopies(t *testing.T) {
	prepared := 0
	c := store.NewSessionCache(2, func(s *engine.Session) { prepared++; s.UpdatedAt = s.UpdatedAt.Truncate(time.Millisecond) })
	at := time.Date(2026, 12, 4, 12, 0, 0, 123456789, time.UTC)
	s := &engine.Session{ID: "a", Vars: map[string]any{}, UpdatedAt: at}
	c.Put("a", 2, s, nil)
	e, ok := c.Get("a")
	if !ok || e.Version != 2 {
		t.Fatalf("get: %v %+v", ok, e)
	}
	got, err := e.Session(nil)
	if err != nil || got == s || !got.UpdatedAt.Equal(at.Truncate(time.Millisecond)) {
		t.Fatalf("session: %v, same pointer %v, %v", err, got == s, got.UpdatedAt)
	}
	if !s.UpdatedAt.Equal(at) || prepared != 1 {
		t.Fatalf("prepare changed the caller's session or did not run (%d)", prepared)
	}
	got.ID = "changed"
	if again, _ := e.Session(nil); again.ID != "a" {
		t.Fatal("a turn's copy changed the cache")
	}
	c.Put("a", 1, &engine.Session{ID: "old"}, nil)
	if e, _ := c.Get("a"); e.Version != 2 {
		t.Fatalf("an older version replaced a newer one: %d", e.Version)
	}
	c.Drop("a", 1)
	if _, ok := c.Get("a"); !ok {
		t.Fatal("Drop of an older version dropped the newer one")
	}
	c.Put("b", 1, &engine.Session{ID: "b"}, nil)
	c.Put("c", 1, &engine.Session{ID: "c"}, nil)
	if c.Len() != 2 {
		t.Fatalf("%d entries, max 2", c.Len())
	}
	c.Drop("c", -1)
	c.Drop("b", -1)
	c.Drop("a", -1)
	if c.Len() != 0 {
		t.Fatalf("%d entries after dropping all", c.Len())
	}
	var none *store.SessionCache = store.NewSessionCache(0, nil)
	none.Put("a", 1, s, nil)
	if _, ok := none.Get("a"); ok || none.Len() != 0 {
		t.Fatal("a cache of size 0 kept something")
	}
}

// TestSessionCacheKeep: Keep holds the session a turn handed over as it
// is, with no copy (Put copies it: 2 allocations for this one); each turn
// still gets its own copy, prepared; a session Clone cannot copy is kept
// as its bytes, which the caller must then leave alone (kept).
func TestSessionCacheKeep(t *testing.T) {
	c := store.NewSessionCache(10, func(s *engine.Session) { s.UpdatedAt = s.UpdatedAt.Truncate(time.Millisecond) })
	at := time.Date(2026, 12, 4, 12, 0, 0, 123456789, time.UTC)
	s := &engine.Session{ID: "a", Vars: map[string]any{"x": "1", "l": []any{1.0}}, UpdatedAt: at}
	v := int64(0)
	if n := testing.AllocsPerRun(100, func() { v++; c.Keep("a", v, s, nil) }); n != 0 {
		t.Errorf("Keep allocates %.1f times, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() { v++; c.Put("a", v, s, nil) }); n == 0 {
		t.Error("Put did not copy")
	}
	if kept := c.Keep("a", v+1, s, []byte("{}")); kept {
		t.Error("Keep kept the bytes of a session it holds")
	}
	e, _ := c.Get("a")
	got, err := e.Session(nil)
	if err != nil || got == s || !got.UpdatedAt.Equal(at.Truncate(time.Millisecond)) || !s.UpdatedAt.Equal(at) {
		t.Fatalf("session: %v, the kept one %v, %v (kept: %v)", err, got == s, got.UpdatedAt, s.UpdatedAt)
	}
	got.Vars["l"].([]any)[0] = 2.0
	if s.Vars["l"].([]any)[0] != 1.0 {
		t.Fatal("a turn's copy changed the kept session")
	}
	odd := &engine.Session{ID: "b", Vars: map[string]any{"x": []string{"not clonable"}}}
	if kept := c.Keep("b", 1, odd, []byte(`{"vars":{"x":["not clonable"]}}`)); !kept {
		t.Error("a session Clone cannot copy: its bytes not kept")
	}
	e, _ = c.Get("b")
	if _, err := e.Session(func(b []byte) (*engine.Session, error) { return &engine.Session{ID: string(b)}, nil }); err != nil {
		t.Fatal(err)
	}
}
