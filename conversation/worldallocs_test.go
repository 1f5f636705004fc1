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
// is online, which teams are open) costs its presence's answer only: with
// no team's hours set, the playbook's teams are not copied, and the map
// of open teams, all of them, is made once a playbook version and shared
// by its turns (docs/benchmarks.md, "serve's start, the seventh round",
// and "serve's CPU a turn against the reference's (issue 13, tenth
// round)").
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
	if n > 2 { // salesOnline's map, two (the open teams' were two more)
		t.Fatalf("%v allocations a world, want at most 2", n)
	}
}

// TestWorldHoursStillApply: a team --hours sets is open as they say,
// turn after turn, next to the shared map of teams always open.
func TestWorldHoursStillApply(t *testing.T) {
	closed, err := conversation.ParseHours("sales=mon-sun 00:00-00:01 UTC")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		hours conversation.Hours
		open  bool
	}{{nil, true}, {closed, false}} {
		app := newApp(t, conversation.Options{Presence: salesOnline{}, Hours: c.hours})
		svc := app.Service()
		prog, _ := svc.Registry().Current("desk")
		sess := engine.NewSession(prog, "c1", time.Now())
		for range 2 {
			ev := engine.Event{Kind: engine.EventStart}
			if err := svc.World(context.Background(), prog, sess, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Now.Hour() == 0 && ev.Now.Minute() == 0 {
				t.Skip("run at 00:00 UTC, when the closed team is open")
			}
			if ev.Open["sales"] != c.open {
				t.Fatalf("hours %v: sales open %v, want %v", c.hours, ev.Open["sales"], c.open)
			}
		}
	}
}
