package embedded_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store/embedded"
)

// trips records an engine's round trips (store.Observer).
type trips struct {
	mu  sync.Mutex
	ops []string // op, or op+"!" when it failed
}

func (r *trips) RoundTrip(op string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		op += "!"
	}
	r.ops = append(r.ops, op)
}

func (r *trips) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ops
	r.ops = nil
	return out
}

// TestObserverSeesReadsCommitsAndFailures: every View is a read, every
// commit one round trip; a transaction's own error (a missing key, a
// refused change) is not a failure of the store, a commit on a closed
// store is.
func TestObserverSeesReadsCommitsAndFailures(t *testing.T) {
	ctx := context.Background()
	rec := &trips{}
	db, err := embedded.Open(t.TempDir(), embedded.Options{Observer: rec, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	steps := []struct {
		name string
		do   func() error
		want string
	}{
		{"write", func() error {
			return db.Update(ctx, func(tx *embedded.Tx) error { return tx.Put(embedded.K("obs", "a"), []byte("1")) })
		}, "commit"},
		{"read", func() error {
			return db.View(ctx, func(tx *embedded.Tx) error { _, _, err := tx.Get(embedded.K("obs", "a")); return err })
		}, "read"},
		{"read refused", func() error {
			if err := db.View(ctx, func(*embedded.Tx) error { return refused }); !errors.Is(err, refused) {
				return err
			}
			return nil
		}, "read"},
		{"write refused", func() error {
			if err := db.Update(ctx, func(*embedded.Tx) error { return refused }); !errors.Is(err, refused) {
				return err
			}
			return nil
		}, "commit"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := rec.take(); len(got) != 1 || got[0] != s.want {
			t.Errorf("%s: round trips %v, want [%s]", s.name, got, s.want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *embedded.Tx) error { return tx.Put(embedded.K("obs", "b"), []byte("2")) }); err == nil {
		t.Fatal("a commit on a closed store succeeded")
	}
	if got := rec.take(); len(got) != 1 || got[0] != "commit!" {
		t.Errorf("commit on a closed store: round trips %v, want [commit!]", got)
	}
}
