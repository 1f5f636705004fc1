package server

import (
	"context"
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
)

// TestKeepAliveAllocations: a visitor connection's keep-alive, armed once
// a conversation, is its timer and the timer's function, nothing else
// (the timer and its lock are the connection's fields, not variables of
// their own the function keeps).
func TestKeepAliveAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	v := &visitorConn{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := testing.AllocsPerRun(100, func() {
		v.keepAlive(ctx, cancel).Stop()
	})
	// 4 before: the timer, its function, and the variables the function
	// kept (the timer's and its lock's).
	if n > 2 {
		t.Fatalf("%v allocations to arm a connection's keep-alive, want at most 2", n)
	}
}

var connSink *visitorConn

// TestVisitorOutboxAllocations: a visitor connection's outbox is part of
// the connection: opening it costs its writer's function alone.
func TestVisitorOutboxAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := testing.AllocsPerRun(100, func() {
		v := &visitorConn{}
		v.openOutbox(ctx, cancel)
		connSink = v
	})
	// 3 before: the connection, the outbox, its writer's function.
	if n > 2 {
		t.Fatalf("%v allocations for a connection and its outbox, want at most 2", n)
	}
}
