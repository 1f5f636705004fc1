package conversation_test

import (
	"context"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestSweepRunsOnTheServiceClock: a turn's record cannot be made, so its
// pending mark stays. The sweep leaves the mark alone while it is younger
// than RecoverAfter on the service's clock, and redoes the work once that
// clock has moved past it: one sweep, no real waiting (the store stamps
// its marks with the same clock).
func TestSweepRunsOnTheServiceClock(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 1, time.Minute)
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.prog}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := redisstore.Entry{From: "visitor", Kind: "message", Text: "ada@example.com", ClientID: "m1", At: f.now}
	if _, _, err := f.svc.Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "ada@example.com"}, &msg); err != nil {
		t.Fatal(err)
	}
	// The turn's CRM side runs in the background: wait for its failure.
	waitFor(t, "the failed record", func() bool { calls, _ := f.records.count(); return calls == 1 })
	if n, _ := f.store.PendingCount(ctx); n != 1 {
		t.Fatalf("%d pending marks after a failed effect, want 1", n)
	}

	f.advance(59 * time.Second)
	f.svc.RecoverPending(ctx)
	if calls, _ := f.records.count(); calls != 1 {
		t.Fatalf("the sweep redid a turn whose mark is younger than RecoverAfter (%d calls)", calls)
	}

	f.advance(2 * time.Second)
	f.svc.RecoverPending(ctx)
	if calls, made := f.records.count(); calls != 2 || made != 1 {
		t.Fatalf("after one sweep past RecoverAfter: %d calls, %d records; want the record made on the second call", calls, made)
	}
	if n, _ := f.store.PendingCount(ctx); n != 0 {
		t.Fatalf("%d pending marks after the sweep, want 0", n)
	}
}
