package redis_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestHandOffIsOneCommandOnOneNode (issue 13): on one node a bot's first
// handoff (the chat in no team's lists) sends one command, its script,
// which the Coalescer can batch with other turns: the step on the record,
// the team's queue and open lists, the set of teams, the wait timer and
// the reads (the team's routing and waits, the chat's place, the earlier
// chats) are all in it. A refused step (a resolved chat) is one command
// too, and leaves the lists alone.
func TestHandOffIsOneCommandOnOneNode(t *testing.T) {
	srv := redistest.New(t)
	rec := &recorder{}
	rdb := hookedClient(t, srv.Client.Options(), "", "", rec)
	ctx := context.Background()
	p := srv.Prefix
	inbox := redisstore.NewInbox(rdb, p)
	at := time.UnixMilli(1_700_000_000_000)
	for _, id := range []string{"old", "c1", "c2"} {
		c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: store.Visitor{ID: "v1"}, StartedAt: at, UpdatedAt: at}
		if id != "old" {
			c.Previous = []string{"old"}
		}
		if err := inbox.Start(ctx, c, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if err := inbox.SetTeamConfig(ctx, "sales", store.TeamConfig{Routing: store.RoundRobin, Capacity: 3}); err != nil {
		t.Fatal(err)
	}
	if err := inbox.AddWait(ctx, "sales", 90*time.Second, 20); err != nil {
		t.Fatal(err)
	}
	// As serve's first Ping does: on a fresh Redis the first call of a
	// script would otherwise be a NOSCRIPT and then an EVAL.
	if err := redisstore.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	rec.take()

	wait := store.Timer{ID: "c1:6:sales:0", At: at.Add(2 * time.Minute)}
	c, cfg, err := inbox.HandOff(ctx, "c1", store.Handoff{Team: "sales", Card: "sales", Visitor: store.Visitor{Email: "a@b.co"},
		Last: &store.Last{From: "bot", Text: "Connecting you", At: at}, Timers: []store.Timer{wait}, Previous: []string{"old"}}, at, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if sent := withoutDials(rec.take()); !slices.Equal(sent, []string{"evalsha"}) {
		t.Errorf("a first handoff sent %v, want one evalsha", sent)
	}
	if c.Status != store.StatusOpen || c.Team != "sales" || c.Card != "sales" || c.Visitor.Email != "a@b.co" || c.Visitor.ID != "v1" || c.QueuePosition != 1 || c.Last == nil || c.Last.Text != "Connecting you" {
		t.Errorf("handed off: %+v", c)
	}
	if len(c.PreviousRead) != 1 || c.PreviousRead[0].ID != "old" {
		t.Errorf("earlier chats read: %+v, want old", c.PreviousRead)
	}
	if cfg.Routing != store.RoundRobin || cfg.Capacity != 3 || cfg.Waits == nil || !slices.Equal(*cfg.Waits, []time.Duration{90 * time.Second}) {
		t.Errorf("team config %+v (waits %v)", cfg, cfg.Waits)
	}
	for _, k := range []string{"{t:sales}:queue", "{t:sales}:open"} {
		if s, err := srv.Client.ZScore(ctx, p+k, "c1").Result(); err != nil || s != float64(at.UnixMilli()) {
			t.Errorf("%s: c1 at %v (%v), want %d", k, s, err, at.UnixMilli())
		}
	}
	if ok, err := srv.Client.SIsMember(ctx, p+"teams", "sales").Result(); err != nil || !ok {
		t.Errorf("sales in the teams: %v %v", ok, err)
	}
	if s, err := srv.Client.ZScore(ctx, p+"timers", "c1|"+wait.ID).Result(); err != nil || s != float64(wait.At.UnixMilli()) {
		t.Errorf("the wait timer at %v (%v), want %d", s, err, wait.At.UnixMilli())
	}

	if _, _, err := inbox.Resolve(ctx, "c2", at); err != nil {
		t.Fatal(err)
	}
	rec.take()
	if _, _, err := inbox.HandOff(ctx, "c2", store.Handoff{Team: "support"}, at, time.Hour); err != store.ErrClosed {
		t.Fatalf("a resolved chat handed off: %v, want ErrClosed", err)
	}
	if sent := withoutDials(rec.take()); !slices.Equal(sent, []string{"evalsha"}) {
		t.Errorf("a refused handoff sent %v, want one evalsha", sent)
	}
	for _, k := range []string{"{t:support}:queue", "{t:support}:open"} {
		if n, err := srv.Client.ZCard(ctx, p+k).Result(); err != nil || n != 0 {
			t.Errorf("%s holds %d (%v) after a refused handoff", k, n, err)
		}
	}
}
