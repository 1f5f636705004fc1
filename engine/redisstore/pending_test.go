package redisstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/engine/redisstore"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestPendingMarks: a turn that leaves work is marked in the same round
// trip, Done clears the mark, and a mark left behind (its process died) is
// claimed by one sweeper at a time once it is old enough.
func TestPendingMarks(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	base, _ := processStore(t, srv, 0)
	st := redisstore.New(base.Client(), redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour,
		Pending: func(es []redisstore.Entry) bool { return len(es) > 0 && es[len(es)-1].Kind == "record" }})
	for _, id := range []string{"p1", "p2"} {
		if _, err := st.Create(ctx, benchSession(id), nil); err != nil {
			t.Fatal(err)
		}
	}
	step := func(kind string) func(*engine.Session) (*engine.Session, []redisstore.Entry, error) {
		return func(s *engine.Session) (*engine.Session, []redisstore.Entry, error) {
			return s, []redisstore.Entry{{From: "system", Kind: kind, At: time.Now()}}, nil
		}
	}
	plain, err := st.Turn(ctx, "p1", "c1", step("message"))
	if err != nil || plain.Pending != "" {
		t.Fatalf("a turn with nothing left to do: mark %q (%v)", plain.Pending, err)
	}
	first, err := st.Turn(ctx, "p1", "c2", step("record"))
	if err != nil || first.Pending == "" {
		t.Fatalf("a turn with a record: mark %q (%v)", first.Pending, err)
	}
	if _, err := st.Turn(ctx, "p2", "c1", step("record")); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.PendingCount(ctx); n != 2 {
		t.Fatalf("%d marks, want 2", n)
	}
	if err := st.Done(ctx, first.Pending); err != nil {
		t.Fatal(err)
	}
	// p2's mark is left, as by a process that died: too new to claim,
	// then claimed once, then (claimed recently) not again.
	now := time.Now()
	if got, _ := st.ClaimPending(ctx, now.Add(-time.Minute), now, 10); len(got) != 0 {
		t.Fatalf("claimed a fresh mark: %v", got)
	}
	got, err := st.ClaimPending(ctx, now.Add(time.Second), now.Add(time.Second), 10)
	if err != nil || len(got) != 1 || got[0].Conversation != "p2" {
		t.Fatalf("claim: %v (%v)", got, err)
	}
	if again, _ := st.ClaimPending(ctx, now.Add(time.Millisecond), now.Add(time.Second), 10); len(again) != 0 {
		t.Fatalf("claimed twice: %v", again)
	}
	if err := st.Done(ctx, got[0].Mark); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.PendingCount(ctx); n != 0 {
		t.Fatalf("%d marks left, want 0", n)
	}
}
