package conversation_test

import (
	"context"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/storetest"
)

// TestEmbeddedTurnFoldsInItsCommit (issue 13): on the embedded engine,
// as on one Redis node, a turn's funnel fold is written in the turn's own
// commit: a start's counters are there when Start returns, and an
// ordinary turn (one that leaves no other work) is not marked pending and
// has its facts counted when it returns, with no fold after it.
func TestEmbeddedTurnFoldsInItsCommit(t *testing.T) {
	ctx := context.Background()
	app := newApp(t, conversation.Options{})
	prog, ok := app.Registry().Current("signup")
	if !ok {
		t.Fatal("no signup playbook")
	}
	sess, _, err := app.Service().Start(ctx, conversation.StartRequest{Program: prog, Locale: "en"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	funnel := func() map[string]int64 { return storetest.FunnelCounters(t, app.Engine().Funnels()) }
	if got := funnel(); got["started"] != 1 {
		t.Fatalf("counters %v once Start returned, want started: 1 (folded with the start)", got)
	}
	// Not an email: the card asks again, nothing else to do (its
	// start's mark is cleared in the background: not counted here).
	msg := store.Entry{From: "visitor", Kind: "message", Text: "hello", ClientID: "m1"}
	res, _, err := app.Service().Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "hello"}, &msg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != "" {
		t.Errorf("an ordinary turn is marked pending (%q): its fold went with it", res.Pending)
	}
	// Its facts were counted in its commit, before Turn returned.
	if got := funnel(); got["answered|ask"] != 1 || got["started"] != 1 {
		t.Errorf("counters %v once the turn returned, want answered|ask: 1 and started: 1", got)
	}
}
