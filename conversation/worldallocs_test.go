package conversation_test

import (
	"context"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
)

// TestWorldAllocations: the world a turn and a start see (the time, who
// is online, which teams are open) costs its presence's answer and the
// map of open teams, made once: with no team's hours set, the playbook's
// teams are not copied (docs/benchmarks.md, "serve's start, the seventh
// round").
func TestWorldAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	app := newApp(t, conversation.Options{Presence: salesOnline{}})
	svc := app.Service()
	prog, ok := svc.Registry().Current("desk")
	if !ok {
		t.Fatal("no desk playbook")
	}
	sess := engine.NewSession(prog, "c1", time.Now())
	ctx := context.Background()
	var ev engine.Event
	n := testing.AllocsPerRun(100, func() {
		ev = engine.Event{Kind: engine.EventStart}
		if err := svc.World(ctx, prog, sess, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if !ev.Open["sales"] || ev.Online["sales"] != 1 {
		t.Fatalf("open %v, online %v: want sales open and online", ev.Open, ev.Online)
	}
	if n > 4 { // salesOnline's map and the open teams', two each
		t.Fatalf("%v allocations a world, want at most 4", n)
	}
}
