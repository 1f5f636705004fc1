package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// onRedis opens two inboxes on one Redis (two clients: two processes).
func onRedis(t *testing.T) (store.InboxEngine, store.InboxEngine) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rds := redistest.New(t)
	opt, err := goredis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	second := goredis.NewClient(opt)
	t.Cleanup(func() { second.Close() })
	return redisstore.NewInbox(rds.Client, rds.Prefix), redisstore.NewInbox(second, rds.Prefix)
}

// onCluster opens two inboxes on the Redis Cluster of
// PLAYBOOK_REDIS_CLUSTER (two clients).
func onCluster(t *testing.T) (store.InboxEngine, store.InboxEngine) {
	if testing.Short() {
		t.Skip("needs a Redis Cluster")
	}
	cl := redistest.NewCluster(t)
	second := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { second.Close() })
	return redisstore.NewInbox(cl.Client, cl.Prefix), redisstore.NewInbox(second, cl.Prefix)
}

// onRedisBatched and onClusterBatched are onRedis and onCluster with each
// client's commands batched across goroutines (redisstore.Coalesce).
func onRedisBatched(t *testing.T) (store.InboxEngine, store.InboxEngine) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	rds := redistest.New(t)
	opt, err := goredis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	first, second := goredis.NewClient(opt), goredis.NewClient(opt)
	return batchedInboxes(t, rds.Prefix, first, second)
}

func onClusterBatched(t *testing.T) (store.InboxEngine, store.InboxEngine) {
	if testing.Short() {
		t.Skip("needs a Redis Cluster")
	}
	cl := redistest.NewCluster(t)
	first := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	second := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	return batchedInboxes(t, cl.Prefix, first, second)
}

func batchedInboxes(t *testing.T, prefix string, a, b goredis.UniversalClient) (store.InboxEngine, store.InboxEngine) {
	for _, c := range []goredis.UniversalClient{a, b} {
		co := redisstore.Coalesce(c, redisstore.CoalesceOptions{})
		t.Cleanup(func() { co.Close(); c.Close() })
	}
	return redisstore.NewInbox(a, prefix), redisstore.NewInbox(b, prefix)
}

func TestInboxRedisBatched(t *testing.T)   { storetest.Inbox(t, onRedisBatched) }
func TestInboxClusterBatched(t *testing.T) { storetest.Inbox(t, onClusterBatched) }

func TestInboxRedis(t *testing.T)    { storetest.Inbox(t, onRedis) }
func TestAgentsRedis(t *testing.T)   { storetest.Agents(t, onRedis) }
func TestPresenceRedis(t *testing.T) { storetest.Presence(t, onRedis) }
func TestCannedRedis(t *testing.T)   { storetest.Canned(t, onRedis) }

func TestInboxCluster(t *testing.T)    { storetest.Inbox(t, onCluster) }
func TestAgentsCluster(t *testing.T)   { storetest.Agents(t, onCluster) }
func TestPresenceCluster(t *testing.T) { storetest.Presence(t, onCluster) }
func TestCannedCluster(t *testing.T)   { storetest.Canned(t, onCluster) }

// TestHalfWrittenEmailOnCluster: an email key left by a creation cut short
// (before issue 12, on a cluster, the email was written and the record
// failed with CROSSSLOT) does not block a new try.
func TestHalfWrittenEmailOnCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a Redis Cluster")
	}
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	s := handoff.NewStore(redisstore.NewInbox(cl.Client, cl.Prefix), handoff.Options{PasswordCost: bcrypt.MinCost})
	if err := cl.Client.Set(ctx, cl.Prefix+"agent-email:lee@example.com", "half-written", 0).Err(); err != nil {
		t.Fatal(err)
	}
	lee, err := s.AddAgent(ctx, handoff.NewAgent{Email: "lee@example.com", Name: "Lee", Teams: []string{"support"}, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.AgentByEmail(ctx, "lee@example.com"); err != nil || got.ID != lee.ID {
		t.Fatalf("lee by email = %v, %v; want %s", got, err, lee.ID)
	}
	if _, err := s.Login(ctx, "lee@example.com", "correct horse", "127.0.0.1"); err != nil {
		t.Fatalf("lee signs in: %v", err)
	}
}

// TestMoveLegacyTeamKeys: a store written with the key layout before
// issue 12 (a queued chat in team:sales:queue and :open, a routing in
// team-config:sales) is, after the move, what the inbox lists and routes
// by; a second run moves nothing.
func TestMoveLegacyTeamKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	ctx := context.Background()
	rds := redistest.New(t)
	s := handoff.NewStore(redisstore.NewInbox(rds.Client, rds.Prefix), handoff.Options{PasswordCost: bcrypt.MinCost})
	sam, err := s.AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "sam", Teams: []string{"sales"}, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(ctx, handoff.Conversation{ID: "old-1", Playbook: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Queue(ctx, "old-1", "sales", "high", "sales"); err != nil {
		t.Fatal(err)
	}
	// Back to the old layout, as the previous version left it.
	p := rds.Prefix
	score := float64(time.Now().UnixMilli())
	rds.Client.Del(ctx, p+"{t:sales}:queue", p+"{t:sales}:open")
	rds.Client.ZAdd(ctx, p+"team:sales:queue", goredis.Z{Score: score, Member: "old-1"})
	rds.Client.ZAdd(ctx, p+"team:sales:open", goredis.Z{Score: score, Member: "old-1"})
	rds.Client.HSet(ctx, p+"team-config:sales", "routing", "round_robin", "capacity", 2)
	if list, _ := s.List(ctx, sam, handoff.FolderUnassigned, 10); len(list) != 0 {
		t.Fatalf("the new layout sees %d chats before the move", len(list))
	}

	n, err := s.MoveLegacyTeamKeys(ctx)
	if err != nil || n != 3 {
		t.Fatalf("moved %d keys, %v; want 3", n, err)
	}
	if list, err := s.List(ctx, sam, handoff.FolderUnassigned, 10); err != nil || len(list) != 1 || list[0].ID != "old-1" {
		t.Fatalf("unassigned after the move = %v, %v", list, err)
	}
	if cfg, err := s.TeamConfigOf(ctx, "sales"); err != nil || cfg.Routing != handoff.RoundRobin || cfg.Capacity != 2 {
		t.Fatalf("sales routing after the move = %+v, %v", cfg, err)
	}
	if n, _ := rds.Client.Exists(ctx, p+"team:sales:queue", p+"team:sales:open", p+"team-config:sales").Result(); n != 0 {
		t.Fatalf("%d old keys left", n)
	}
	if n, err := s.MoveLegacyTeamKeys(ctx); err != nil || n != 0 {
		t.Fatalf("a second run moved %d, %v", n, err)
	}
}

// TestLegacyCannedBecomeShared: canned responses of the old global list
// (short name -> text) read as shared ones, once, with stable ids.
func TestLegacyCannedBecomeShared(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	ctx := context.Background()
	rds := redistest.New(t)
	rds.Client.HSet(ctx, rds.Prefix+"canned", "hello", "Hello! How can I help?", "bye", "Bye!")
	s := handoff.NewStore(redisstore.NewInbox(rds.Client, rds.Prefix), handoff.Options{})
	all, err := s.CannedResponses(ctx)
	if err != nil || len(all) != 2 || all[0].Short != "bye" || all[1].Scope != handoff.CannedShared || all[1].Text != "Hello! How can I help?" {
		t.Fatalf("migrated: %+v, %v", all, err)
	}
	if _, err := s.CreateCanned(ctx, handoff.Canned{Short: "hello", Text: "x", Scope: handoff.CannedShared}); err == nil {
		t.Fatal("a migrated short name was free")
	}
	if n, _ := rds.Client.Exists(ctx, rds.Prefix+"canned").Result(); n != 0 {
		t.Fatal("the old list is still there")
	}
}

func BenchmarkInboxCycleRedis(b *testing.B) {
	rds := redistest.New(b)
	storetest.BenchInboxCycle(b, redisstore.NewInbox(rds.Client, rds.Prefix))
}

func BenchmarkInboxCycleCluster(b *testing.B) {
	cl := redistest.NewCluster(b)
	storetest.BenchInboxCycle(b, redisstore.NewInbox(cl.Client, cl.Prefix))
}

// TestStartOfAReturningVisitorIsOneRoundTrip (issue 13): a visitor's next
// conversation is recorded with its earlier ones in the round trip that
// reads them, when this process saw the visitor's last one; when another
// process started that one, a second round trip puts the list right.
func TestStartOfAReturningVisitorIsOneRoundTrip(t *testing.T) {
	srv := redistest.New(t)
	ctx := context.Background()
	n := 0
	open := func() (*redisstore.Inbox, *recorder) {
		n++
		rec := &recorder{}
		c := hookedClient(t, srv.Client.Options(), "", "", rec)
		in := redisstore.NewInbox(c, srv.Prefix)
		// The connection's own set-up (HELLO, ...) is not a Start's.
		if err := in.Start(ctx, &store.Conversation{ID: "warm-" + strconv.Itoa(n), Playbook: "p", Visitor: store.Visitor{ID: "other"}}, time.Hour); err != nil {
			t.Fatal(err)
		}
		return in, rec
	}
	a, recA := open()
	b, recB := open()
	reader := redisstore.NewInbox(srv.Client, srv.Prefix)
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	start := func(in *redisstore.Inbox, rec *recorder, id string, wantTrips int, wantPrev ...string) {
		t.Helper()
		at = at.Add(time.Minute)
		rec.take()
		c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: store.Visitor{ID: "vis-1"}, StartedAt: at, UpdatedAt: at}
		if err := in.Start(ctx, c, time.Hour); err != nil {
			t.Fatal(err)
		}
		if trips := withoutDials(rec.take()); len(trips) != wantTrips {
			t.Errorf("%s: %d round trips %v, want %d", id, len(trips), trips, wantTrips)
		}
		stored, err := reader.Conversation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range [][]string{c.Previous, stored.Previous} {
			if len(got) != len(wantPrev) || (len(got) > 0 && !slices.Equal(got, wantPrev)) {
				t.Errorf("%s: previous %v (returned %v, stored %v), want %v", id, got, c.Previous, stored.Previous, wantPrev)
			}
		}
	}
	start(a, recA, "c1", 1)
	start(a, recA, "c2", 1, "c1")       // a saw c1: one round trip
	start(a, recA, "c3", 1, "c2", "c1") // and c2
	start(b, recB, "c4", 2, "c3", "c2", "c1")
	start(a, recA, "c5", 2, "c4", "c3", "c2", "c1") // a did not see c4
	start(a, recA, "c6", 1, "c5", "c4", "c3", "c2", "c1")
}

// withoutDials leaves out of what a recorder saw the set-up of a new
// connection (HELLO and the pipeline of CLIENT SETINFO after it), which the
// pool may dial at any time.
func withoutDials(cmds []string) []string {
	var out []string
	for i := 0; i < len(cmds); i++ {
		if cmds[i] == "hello" {
			if i+1 < len(cmds) && cmds[i+1] == "pipeline" {
				i++
			}
			continue
		}
		out = append(out, cmds[i])
	}
	return out
}

// TestInboxRecordStoredForm: a record keeps its visitor and its last
// message in their short forms (one-letter names, the time in Unix ms),
// leaves its id (the key's) and empty fields out, and stays one listpack for a handed-off chat
// of the reference mix; a record stored in the older forms (long names,
// cjson's \/ in a page, an RFC 3339 time, empty fields) reads as before,
// and a handoff moves its visitor to the short form.
func TestInboxRecordStoredForm(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis")
	}
	ctx := context.Background()
	rds := redistest.New(t)
	in := redisstore.NewInbox(rds.Client, rds.Prefix)
	at := time.Date(2026, 12, 4, 18, 58, 27, 842000000, time.UTC)
	c := &store.Conversation{ID: "c1", Status: store.StatusBot, Playbook: "qualify", Visitor: store.Visitor{ID: "bench-190", Page: "/bench"}, StartedAt: at, UpdatedAt: at}
	if err := in.Start(ctx, c, time.Hour); err != nil {
		t.Fatal(err)
	}
	last := store.Last{From: "bot", Text: "Connecting you to sales...", At: at}
	got, _, err := in.HandOff(ctx, "c1", store.Handoff{Team: "sales", Card: "sales", Visitor: store.Visitor{Email: "visitor190@acme93.com"}, Last: &last}, at, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := store.Visitor{ID: "bench-190", Email: "visitor190@acme93.com", Page: "/bench"}
	if got.Visitor != want || got.Last == nil || *got.Last != last || got.Assignee != "" || got.Team != "sales" {
		t.Fatalf("after the handoff: %+v (last %+v); want visitor %+v, last %+v", got, got.Last, want, last)
	}
	key := rds.Prefix + "{c:c1}:meta"
	m := rds.Client.HGetAll(ctx, key).Val()
	if m["last"] != `{"f":"b","t":"Connecting you to sales...","a":1796410707842}` {
		t.Errorf("stored last: %s", m["last"])
	}
	var v map[string]string
	if err := json.Unmarshal([]byte(m["visitor"]), &v); err != nil || len(v) != 3 || v["i"] != "bench-190" || v["e"] != "visitor190@acme93.com" || v["p"] != "/bench" || strings.Contains(m["visitor"], `\/`) {
		t.Errorf("stored visitor: %s", m["visitor"])
	}
	if got.ID != "c1" {
		t.Errorf("the record's id: %q", got.ID)
	}
	for _, f := range []string{"id", "assignee", "assignee_name", "priority"} {
		if _, ok := m[f]; ok {
			t.Errorf("the empty field %s is stored", f)
		}
	}
	if rds.Mini == nil {
		if enc := rds.Client.ObjectEncoding(ctx, key).Val(); enc != "listpack" {
			t.Errorf("the handed-off record is a %s, want a listpack", enc)
		}
	}

	// The older forms.
	old := rds.Prefix + "{c:c2}:meta"
	if err := rds.Client.HSet(ctx, old, "id", "c2", "status", "bot", "playbook", "qualify", "assignee", "", "started_at", "2026-12-04T18:58:27.842Z",
		"visitor", `{"id":"v2","page":"\/pricing","name":"Ana"}`, "last", `{"from":"visitor","text":"hi","at":"2026-12-04T18:58:27.842Z"}`).Err(); err != nil {
		t.Fatal(err)
	}
	o, err := in.Conversation(ctx, "c2")
	if err != nil || o.ID != "c2" || !o.StartedAt.Equal(at) || o.Visitor != (store.Visitor{ID: "v2", Name: "Ana", Page: "/pricing"}) || o.Last == nil || o.Last.Text != "hi" || o.Last.From != "visitor" || !o.Last.At.Equal(at) {
		t.Fatalf("an older record: %+v (last %+v), %v", o, o.Last, err)
	}
	o, _, err = in.HandOff(ctx, "c2", store.Handoff{Team: "sales", Visitor: store.Visitor{Email: "ana@acme.io"}}, at, time.Hour)
	if err != nil || o.Visitor != (store.Visitor{ID: "v2", Name: "Ana", Email: "ana@acme.io", Page: "/pricing"}) {
		t.Fatalf("an older record after a handoff: %+v, %v", o, err)
	}
	if s := rds.Client.HGet(ctx, old, "visitor").Val(); strings.Contains(s, `"id"`) || strings.Contains(s, `"page"`) {
		t.Errorf("an older record's visitor after a handoff: %s, want the short form", s)
	}
}

// TestHandOffWork* run storetest.HandOffWork on one node and on the
// Cluster, each plain and batched (the timer queue on the same client).
func TestHandOffWorkRedis(t *testing.T)        { storetest.HandOffWork(t, withTimers(onRedis)) }
func TestHandOffWorkRedisBatched(t *testing.T) { storetest.HandOffWork(t, withTimers(onRedisBatched)) }
func TestHandOffWorkCluster(t *testing.T)      { storetest.HandOffWork(t, withTimers(onCluster)) }
func TestHandOffWorkClusterBatched(t *testing.T) {
	storetest.HandOffWork(t, withTimers(onClusterBatched))
}

// withTimers opens an inbox with open and the timer queue of its client
// and prefix.
func withTimers(open func(t *testing.T) (store.InboxEngine, store.InboxEngine)) func(t *testing.T) (store.InboxEngine, store.Timers) {
	return func(t *testing.T) (store.InboxEngine, store.Timers) {
		in, _ := open(t)
		return in, redisstore.TimersOf(in.(*redisstore.Inbox))
	}
}

// TestAwaySendsItsScriptByHash (issue 13): recording the team a handoff
// found away (after a lead's last turn) is one EVALSHA of the script
// loaded at start-up, not an EVAL with the script's whole body, which
// Redis hashes again each time (17 µs of its CPU each in the bench).
func TestAwaySendsItsScriptByHash(t *testing.T) {
	srv := redistest.New(t)
	ctx := context.Background()
	c := goredis.NewClient(srv.Client.Options())
	t.Cleanup(func() { c.Close() })
	in := redisstore.NewInbox(c, srv.Prefix)
	if err := in.Start(ctx, &store.Conversation{ID: "a1", Playbook: "p", Visitor: store.Visitor{ID: "v1"}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := in.Away(ctx, "warm", "sales"); !errors.Is(err, store.ErrInboxNotFound) {
		t.Fatalf("away on no conversation: %v", err) // and the script is loaded
	}
	rec := &recorder{}
	c.AddHook(rec)
	if err := in.Away(ctx, "a1", "sales"); err != nil {
		t.Fatal(err)
	}
	if cmds := withoutDials(rec.take()); !slices.Equal(cmds, []string{"evalsha"}) {
		t.Errorf("away sent %v, want [evalsha]", cmds)
	}
	got, err := in.Conversation(ctx, "a1")
	if err != nil || got.Team != "sales" {
		t.Fatalf("team %q, %v; want sales", got.Team, err)
	}
}
