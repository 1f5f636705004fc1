package embedded_test

import (
	"errors"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

// A turn starts from the session its process committed last, kept decoded
// (no read, no JSON decode), and still sees what was written around that
// copy: by another Sessions on the same DB, a deletion, or a step that
// failed after changing its copy.
func TestTurnStartsFromTheCachedSession(t *testing.T) {
	ctx := t.Context()
	db, err := embedded.Open(t.TempDir(), embedded.Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour})
	b := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour})
	if _, err := a.Create(ctx, benchSession("c1"), nil); err != nil {
		t.Fatal(err)
	}
	setVar := func(s *embedded.Sessions, v string) {
		t.Helper()
		if _, err := s.Turn(ctx, "c1", "", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			sess.Vars["seen"] = sess.Vars["seen"].(string) + v
			return sess, nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	first := func(s *embedded.Sessions) {
		t.Helper()
		if _, err := s.Turn(ctx, "c1", "", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			sess.Vars["seen"] = ""
			return sess, nil, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	first(a)
	reads := embedded.Reads(db)
	setVar(a, "a")
	setVar(a, "a")
	if n := embedded.Reads(db) - reads; n != 0 {
		t.Errorf("two turns after a commit read the store %d times, want 0", n)
	}
	setVar(b, "b") // a's copy is now stale
	setVar(a, "a")
	// A step that changes its copy and fails leaves the cache as it was.
	boom := errors.New("boom")
	if _, err := a.Turn(ctx, "c1", "", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		sess.Vars["seen"] = "lost"
		return nil, nil, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("failing step: %v", err)
	}
	setVar(a, "a")
	sess, v, err := b.Load(ctx, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got := sess.Vars["seen"]; got != "aabaa" || v != 7 {
		t.Errorf("seen %q at version %d, want aabaa at 7", got, v)
	}
	if err := b.Delete(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Turn(ctx, "c1", "", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		return sess, nil, nil
	}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a turn of a conversation deleted by another Sessions: %v, want ErrNotFound", err)
	}
}
