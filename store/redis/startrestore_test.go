package redis_test

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// TestNewVisitorStartIsTwoRestores (issue 13, fourteenth round): on one
// Redis node the start of a visitor nobody has seen writes its inbox
// record and the visitor's new list with one RESTORE each (the listpack
// HSET and ZADD would build, with its expiry): not ZREVRANGE, ZADD and
// PEXPIRE of the list and HSET and PEXPIRE of the record (five commands
// before). The record, the list and their expiries are Inbox.Start's.
// A visitor whose list exists (started by another process) is read as
// before, after the list's RESTORE finds it (BUSYKEY).
func TestNewVisitorStartIsTwoRestores(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "MONITOR and RESTORE")
	ctx := context.Background()
	p := srv.Prefix
	st := redisstore.New(srv.Client, redisstore.Options{Prefix: p, TTL: time.Hour})
	other := redisstore.NewInbox(srv.Client, p)
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	record := func(id string, vis store.Visitor) *store.Conversation {
		return &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: t0, UpdatedAt: t0}
	}
	// start returns the commands the start's script ran on the record
	// and the visitor's list, by name.
	start := func(id string, vis store.Visitor) []string {
		t.Helper()
		mon := startMonitor(t, srv.Client.Options().Addr, p)
		if _, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}, storetest.CountedFold(key, "started"), time.Hour, record(id, vis), time.Hour); err != nil {
			t.Fatal(err)
		}
		end := p + "end"
		_ = srv.Client.Get(ctx, end).Err()
		var ran []string
		for _, c := range mon.untilFrom(t, "GET", end) {
			if c.from == "lua" && len(c.args) > 1 && (strings.HasSuffix(c.args[1], ":meta") || strings.HasSuffix(c.args[1], ":convs")) {
				ran = append(ran, strings.ToUpper(c.args[0])+" "+strings.TrimPrefix(c.args[1], p))
			}
		}
		return ran
	}
	vis := store.Visitor{ID: "v1", Name: "Ada", Page: "/pricing"}
	if ran, want := start("c1", vis), []string{"RESTORE {c:c1}:meta", "RESTORE visitor:v1:convs"}; !slices.Equal(ran, want) {
		t.Errorf("a new visitor's start ran %q on its record and list, want %q", ran, want)
	}
	// What Inbox.Start stores for the same start, field for field, and
	// the same expiries.
	if err := other.Start(ctx, record("s1", store.Visitor{ID: "v2", Name: "Ada", Page: "/pricing"}), time.Hour); err != nil {
		t.Fatal(err)
	}
	a, b := srv.Client.HGetAll(ctx, p+"{c:s1}:meta").Val(), srv.Client.HGetAll(ctx, p+"{c:c1}:meta").Val()
	if b["visitor"] != strings.Replace(a["visitor"], "v2", "v1", 1) {
		t.Errorf("the restored record's visitor %q, Inbox.Start's %q", b["visitor"], a["visitor"])
	}
	delete(a, "visitor")
	delete(b, "visitor")
	if !maps.Equal(a, b) {
		t.Errorf("the restored record %v, Inbox.Start's %v", b, a)
	}
	if ea, eb := srv.Client.ObjectEncoding(ctx, p+"{c:s1}:meta").Val(), srv.Client.ObjectEncoding(ctx, p+"{c:c1}:meta").Val(); ea != eb {
		t.Errorf("the restored record is a %s, Inbox.Start's a %s", eb, ea)
	}
	if z := srv.Client.ZRangeWithScores(ctx, p+"visitor:v1:convs", 0, -1).Val(); len(z) != 1 || z[0].Member != "c1" || z[0].Score != float64(t0.UnixMilli()) {
		t.Errorf("the visitor's list %v, want c1 at its start", z)
	}
	for _, k := range []string{"{c:c1}:meta", "visitor:v1:convs"} {
		if ttl := srv.Client.PTTL(ctx, p+k).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("%s lives %v, want the retention (an hour)", k, ttl)
		}
	}
	// The visitor's next start, known to this process: the record
	// restored, its list checked and added to; the record names c1.
	ran := start("c2", vis)
	if want := []string{"RESTORE {c:c2}:meta", "ZRANGE visitor:v1:convs", "ZADD visitor:v1:convs", "PEXPIRE visitor:v1:convs"}; !slices.Equal(ran, want) {
		t.Errorf("a known visitor's start ran %q, want %q", ran, want)
	}
	if c, err := other.Conversation(ctx, "c2"); err != nil || !slices.Equal(c.Previous, []string{"c1"}) {
		t.Errorf("c2's record: %+v %v, want it to name c1", c, err)
	}
	// A visitor another process started: not seen here, its list exists.
	v3 := store.Visitor{ID: "v3"}
	if err := other.Start(ctx, record("x1", v3), time.Hour); err != nil {
		t.Fatal(err)
	}
	ran = start("c3", v3)
	if want := []string{"RESTORE {c:c3}:meta", "RESTORE visitor:v3:convs", "ZREVRANGE visitor:v3:convs", "ZADD visitor:v3:convs", "PEXPIRE visitor:v3:convs", "HSET {c:c3}:meta"}; !slices.Equal(ran, want) {
		t.Errorf("a start of another process's visitor ran %q, want %q", ran, want)
	}
	if c, err := other.Conversation(ctx, "c3"); err != nil || !slices.Equal(c.Previous, []string{"x1"}) {
		t.Errorf("c3's record: %+v %v, want it to name x1", c, err)
	}
	if n := srv.Client.ZCard(ctx, p+"visitor:v3:convs").Val(); n != 2 {
		t.Errorf("v3's list holds %d, want 2", n)
	}
}

// TestStartWhereRestoreIsRefused: a Redis user not allowed RESTORE (an
// ACL without @dangerous) still gets a start's record and visitor's
// list, written after the script as Inbox.Start writes them; the store
// then sends the record's fields, as before the fourteenth round, and
// Redis refuses it once (one ACL LOG entry), not every start.
func TestStartWhereRestoreIsRefused(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "ACL")
	ctx := context.Background()
	p := srv.Prefix
	user := "norestore" + strings.TrimSuffix(p, ":")
	if err := srv.Client.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-restore").Err(); err != nil {
		t.Skipf("ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { srv.Client.Do(context.Background(), "ACL", "DELUSER", user) })
	opts := *srv.Client.Options()
	opts.Username, opts.Password = user, "pw"
	c := goredis.NewClient(&opts)
	t.Cleanup(func() { c.Close() })
	st := redisstore.New(c, redisstore.Options{Prefix: p, TTL: time.Hour})
	view := redisstore.NewInbox(srv.Client, p)
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada"}
	for i, id := range []string{"c1", "c2"} {
		conv := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: t0, UpdatedAt: t0}
		if _, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}, storetest.CountedFold(key, "started"), time.Hour, conv, time.Hour); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !st.RestoreRefused() {
			t.Errorf("%s: the store did not learn that RESTORE is refused", id)
		}
		got, err := view.Conversation(ctx, id)
		if err != nil {
			t.Fatalf("%s: its record: %v", id, err)
		}
		if got.Status != store.StatusBot || got.Playbook != "p" || got.Visitor != vis || !got.StartedAt.Equal(t0) {
			t.Errorf("%s: record %+v", id, got)
		}
		if want := []string{"c1"}[:i]; !slices.Equal(got.Previous, want) && !(len(want) == 0 && got.Previous == nil) {
			t.Errorf("%s: Previous %v, want %v", id, got.Previous, want)
		}
		if ttl := srv.Client.PTTL(ctx, p+"{c:"+id+"}:meta").Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s: the record lives %v", id, ttl)
		}
	}
	if n := srv.Client.ZCard(ctx, p+"visitor:v1:convs").Val(); n != 2 {
		t.Errorf("the visitor's list holds %d, want 2", n)
	}
	if _, _, err := st.Load(ctx, "c2"); err != nil {
		t.Errorf("c2's session: %v", err)
	}
}
