package redis_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestCreateStartedOnACluster (issue 13): on a Redis Cluster a new
// conversation's inbox record is in its own slot ({c:ID}:meta), so the
// turn script that creates it writes the record too, and its visitor's
// conversations (another slot) are read and added to in the same
// pipeline: a start is one round trip, as on one node, when this process
// knows the visitor's earlier conversations (the engine's cache, checked
// by the read); when it does not (another process started the last one),
// a second round trip puts the record's Previous right. A start that
// loses (the id exists) writes no record and leaves the visitor's list
// as it was.
func TestCreateStartedOnACluster(t *testing.T) {
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { rdb.Close() })
	rec := &recorder{}
	rdb.AddHook(rec)
	eng := redisstore.NewEngine(rdb, cl.Prefix)
	st := eng.Sessions(store.SessionOptions{TTL: time.Hour,
		Pending:       func(e []store.Entry) bool { return len(e) > 0 },
		PendingFolded: func([]store.Entry) bool { return false }}).(*redisstore.Store)
	in := eng.Inbox()
	// view: the inbox of another process (another client), not counted.
	view := redisstore.NewInbox(cl.Client, cl.Prefix)
	if err := redisstore.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	id := func() string { p, _ := placedID(t, st); return p }
	if !st.StartsInbox(in, id()) {
		t.Fatal("StartsInbox = false on a Cluster for the inbox of the same engine")
	}
	if st.StartsInbox(view, id()) {
		t.Fatal("StartsInbox = true for the inbox of another client")
	}
	key := store.FunnelKey{Day: "2026-12-05", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada", Page: "/pricing"}
	record := func(id string, at time.Time, v store.Visitor) *store.Conversation {
		return &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: v, Labels: []string{}, StartedAt: at, UpdatedAt: at}
	}
	// started creates a conversation with its record and checks that it
	// took trips round trips.
	started := func(id string, at time.Time, v store.Visitor, trips int) *store.Conversation {
		t.Helper()
		rec.take()
		c := record(id, at, v)
		r, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []store.Entry{bot("hi"), bot("how can I help?")},
			&store.FunnelFold{Key: key, Facts: []store.FunnelFact{{Name: "started", Counter: "started", At: at}}}, time.Hour, c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if got := rec.take(); len(got) != trips {
			t.Errorf("%s: a start with its record sent %v, want %d round trips", id, got, trips)
		}
		checkStarted(t, ctx, view, cl.Client, cl.Prefix, id, at, v, c, r)
		return c
	}
	// The visitor's first conversation, by another process: this one
	// does not know it, so its first start reads it and puts the record
	// right (2 round trips).
	c0 := id()
	if err := view.Start(ctx, record(c0, t0, vis), time.Hour); err != nil {
		t.Fatal(err)
	}
	c1 := id()
	if got := started(c1, t0.Add(time.Second), vis, 2); !slices.Equal(got.Previous, []string{c0}) {
		t.Errorf("c1's Previous %v, want [%s]", got.Previous, c0)
	}
	// Known now: the next start is one round trip and names both.
	c2 := id()
	if got := started(c2, t0.Add(2*time.Second), vis, 1); !slices.Equal(got.Previous, []string{c1, c0}) {
		t.Errorf("c2's Previous %v, want [%s %s]", got.Previous, c1, c0)
	}
	// A visitor's first conversation ever: one round trip, no Previous.
	if got := started(id(), t0, store.Visitor{ID: "v2"}, 1); got.Previous != nil {
		t.Errorf("a first conversation's Previous %v, want none", got.Previous)
	}
	// A visitor with neither id nor email: no list, one round trip.
	started(id(), t0, store.Visitor{Page: "/"}, 1)
	// Inbox.Start (another process) after them finds them all.
	c3 := record(id(), t0.Add(3*time.Second), vis)
	if err := view.Start(ctx, c3, time.Hour); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c3.Previous, []string{c2, c1, c0}) {
		t.Errorf("Inbox.Start after: Previous %v, want [%s %s %s]", c3.Previous, c2, c1, c0)
	}
	// The record is the one Inbox.Start writes, field for field.
	s1, s2 := id(), id()
	byStart := record(s1, t0, store.Visitor{ID: "v3", Email: "a@example.com"})
	byScript := record(s2, t0, store.Visitor{ID: "v4", Email: "b@example.com"})
	byStart.Team, byScript.Team = "sales", "sales"
	if err := view.Start(ctx, byStart, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateStarted(ctx, &engine.Session{ID: s2}, nil, nil, time.Hour, byScript, time.Hour); err != nil {
		t.Fatal(err)
	}
	a := cl.Client.HGetAll(ctx, cl.Prefix+"{c:"+s1+"}:meta").Val()
	b := cl.Client.HGetAll(ctx, cl.Prefix+"{c:"+s2+"}:meta").Val()
	delete(a, "visitor")
	delete(b, "visitor")
	if !maps.Equal(a, b) {
		t.Errorf("the script's record %v, Inbox.Start's %v", b, a)
	}
	// A start that loses (the id exists) writes no record, and takes
	// nothing from the visitor's list: not another visitor's addition
	// (v9 has none), nor the conversation itself when its own visitor
	// starts it again.
	if _, err := st.CreateStarted(ctx, &engine.Session{ID: c1}, nil, nil, time.Hour, record(c1, t0, store.Visitor{ID: "v9"}), time.Hour); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("a second create of c1: %v, want ErrExists", err)
	}
	if got, err := view.Conversation(ctx, c1); err != nil || got.Visitor != vis {
		t.Errorf("c1's record after a lost create: %+v %v", got, err)
	}
	if n := cl.Client.ZCard(ctx, cl.Prefix+"visitor:v9:convs").Val(); n != 0 {
		t.Errorf("a lost create added %d conversations to its visitor's", n)
	}
	if _, err := st.CreateStarted(ctx, &engine.Session{ID: c1}, nil, nil, time.Hour, record(c1, t0.Add(time.Hour), vis), time.Hour); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("a second create of c1 by its visitor: %v, want ErrExists", err)
	}
	if s, err := cl.Client.ZScore(ctx, cl.Prefix+"visitor:v1:convs", c1).Result(); err != nil || s != float64(t0.Add(time.Second).UnixMilli()) {
		t.Errorf("c1 in its visitor's list after a lost create: %v %v, want it as it was", s, err)
	}
}
