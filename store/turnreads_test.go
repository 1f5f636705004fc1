package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/playbook-dev/playbook/store"
)

type otherKey struct{}

// TestTurnReadsContextIsWithTurnReads: the context a turn keeps in its own
// state carries its reads as WithTurnReads's does, and is its parent in
// every other way (values, cancellation, deadline).
func TestTurnReadsContextIsWithTurnReads(t *testing.T) {
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), otherKey{}, "v"))
	reads := &store.TurnReads{Inbox: true}
	c := &store.TurnReadsContext{Context: parent, Reads: reads}
	if got := store.TurnReadsOf(c); got != reads {
		t.Fatalf("TurnReadsOf = %p, want %p", got, reads)
	}
	if got := store.TurnReadsOf(store.WithTurnReads(parent, reads)); got != reads {
		t.Fatalf("WithTurnReads: TurnReadsOf = %p, want %p", got, reads)
	}
	if got := c.Value(otherKey{}); got != "v" {
		t.Errorf("another key's value = %v, want the parent's", got)
	}
	if store.TurnReadsOf(&store.TurnReadsContext{Context: parent}) != nil {
		t.Error("TurnReadsOf of a context without reads is not nil")
	}
	// A child of it is cancelled with the parent.
	child, stop := context.WithCancel(c)
	defer stop()
	cancel()
	<-child.Done()
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("Err = %v, child's %v; want Canceled", c.Err(), child.Err())
	}
}
