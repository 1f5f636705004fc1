package conversation_test

import (
	"context"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// signal is a Subscriber that says when it got a message.
type signal chan struct{}

func (s signal) Receive(string, string) { s <- struct{}{} }
func (s signal) Resync(string)          {}

// TestHubEchoAllocations: a message the hub hands to its channel's
// followers, every turn's echo among them, costs the hub no allocation
// (the followers were copied into a new slice for each; docs/benchmarks.md,
// "serve's CPU a turn against the reference's (issue 13, tenth round)").
func TestHubEchoAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	ctx, cancel := context.WithCancel(context.Background())
	bus := newFakeBus()
	hub := conversation.NewHub(bus, quiet())
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	<-bus.listen
	got := make(signal, 1)
	if err := hub.Attach(ctx, "c1", got); err != nil {
		t.Fatal(err)
	}
	m := store.Message{Channel: "c1", Payload: "1-1 {}"}
	n := testing.AllocsPerRun(200, func() {
		bus.msgs <- m
		<-got
	})
	if n > 0 {
		t.Fatalf("%v allocations a message handed on, want 0", n)
	}
}

// TestParseSignalAllocations: a live payload of entries (every turn's
// echo) is told from a signal without an allocation.
func TestParseSignalAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	payload := `1-1 {"from":"bot","kind":"message","text":"Hi"}`
	n := testing.AllocsPerRun(200, func() {
		if _, ok := conversation.ParseSignal(payload); ok {
			t.Fatal("entries taken for a signal")
		}
	})
	if n > 0 {
		t.Fatalf("%v allocations to tell entries from a signal, want 0", n)
	}
	if sig, ok := conversation.ParseSignal(`!{"type":"typing","from":"agent","on":true}`); !ok || sig.Type != "typing" || !sig.On {
		t.Fatalf("ParseSignal of a typing signal = %+v, %v", sig, ok)
	}
}

// TestDoneWithoutAMarkAllocations: a turn that left no mark to clear (an
// ordinary turn, its fold written with it) hands the fold batcher nothing
// and costs nothing (the item was moved to the heap before it was known
// to be empty).
func TestDoneWithoutAMarkAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	svc := newApp(t, conversation.Options{}).Service()
	ctx := context.Background()
	n := testing.AllocsPerRun(200, func() { svc.Done(ctx, "") })
	if n > 0 {
		t.Fatalf("%v allocations for no mark, want 0", n)
	}
}
