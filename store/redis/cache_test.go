package redis_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// recorder is a go-redis hook that records the commands a client sends.
type recorder struct {
	mu   sync.Mutex
	cmds []string
}

func (r *recorder) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r *recorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.mu.Lock()
		r.cmds = append(r.cmds, cmd.Name())
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}
func (r *recorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		r.mu.Lock()
		r.cmds = append(r.cmds, "pipeline")
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

// take returns the commands sent since the last call.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.cmds
	r.cmds = nil
	return out
}

// processStore is a Store with its own client on srv, as another server
// process would have, and the record of what it sends.
func processStore(t *testing.T, srv *redistest.Server, cacheSize int) (*redisstore.Store, *recorder) {
	t.Helper()
	rec := &recorder{}
	c := hookedClient(t, srv.Client.Options(), "", "", rec)
	return redisstore.New(c, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour, CacheSize: cacheSize}), rec
}

func TestTurnIsOneRoundTripWithTheCache(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	st, rec := processStore(t, srv, 0)
	if _, err := st.Create(ctx, &engine.Session{ID: "k1"}, []redisstore.Entry{bot("hi")}); err != nil {
		t.Fatal(err)
	}
	rec.take()
	for i := range 3 {
		r, err := st.Turn(ctx, "k1", "", count)
		if err != nil || r.Version != int64(i+2) {
			t.Fatalf("turn %d: %+v %v", i+1, r, err)
		}
		// The script may be loaded once (NOSCRIPT, then EVAL); after that
		// a turn is one EVALSHA and nothing else.
		if got := rec.take(); !slices.Equal(got, []string{"evalsha"}) && !slices.Equal(got, []string{"evalsha", "eval"}) {
			t.Fatalf("turn %d sent %v, want one evalsha", i+1, got)
		}
	}
	sess, v, err := st.Load(ctx, "k1")
	if err != nil || sess.Turn != 3 || v != 4 {
		t.Fatalf("load = turn %d version %d %v, want 3 and 4", sess.Turn, v, err)
	}
}

// TestStaleCacheRereads: two processes take turns on one conversation; each
// one's cached version is stale after the other wrote, so the turn script
// refuses it and the turn runs again on the session read from Redis.
func TestStaleCacheRereads(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	a, recA := processStore(t, srv, 0)
	b, recB := processStore(t, srv, 0)
	if _, err := a.Create(ctx, &engine.Session{ID: "k2"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Turn(ctx, "k2", "m1", count); err != nil { // b has nothing cached: it reads
		t.Fatal(err)
	}
	recA.take()
	r, err := a.Turn(ctx, "k2", "m2", count) // a's version 1 is stale
	if err != nil || r.Version != 3 || r.Entries[0].Text != "turn 2" {
		t.Fatalf("turn on a stale cache = %+v %v, want version 3 saying turn 2", r, err)
	}
	if got := recA.take(); !slices.Equal(got, []string{"evalsha", "get", "evalsha"}) {
		t.Fatalf("a sent %v, want evalsha (stale), get, evalsha", got)
	}
	recB.take()
	if r, err := b.Turn(ctx, "k2", "m3", count); err != nil || r.Entries[0].Text != "turn 3" {
		t.Fatalf("b's turn = %+v %v", r, err)
	}
	// A duplicate is still caught, cached or not.
	if r, err := a.Turn(ctx, "k2", "m1", count); err != nil || !r.Duplicate || r.Entries[0].Text != "turn 1" {
		t.Fatalf("duplicate m1 on a = %+v %v", r, err)
	}
	sess, _, _ := a.Load(ctx, "k2")
	if sess.Turn != 3 {
		t.Fatalf("session moved %d times, want 3", sess.Turn)
	}
}

// TestCachedSessionIsACopy: a step that changes the session and then fails
// leaves nothing behind; the next turn starts from what was stored.
func TestCachedSessionIsACopy(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	if _, err := st.Create(ctx, &engine.Session{ID: "k3", Vars: map[string]any{"a": "1"}}, nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := st.Turn(ctx, "k3", "", func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
		sess.Vars["a"] = "changed"
		sess.Turn = 99
		return nil, nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	_, err = st.Turn(ctx, "k3", "", func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
		if sess.Vars["a"] != "1" || sess.Turn != 0 {
			t.Errorf("the failed step's changes leaked: %+v", sess)
		}
		return sess, nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCachedSessionIsNotTheCallers: the cache keeps the decoded session of
// the last turn (the one the step returned, not a copy: store.Step's
// callers only read it after the turn), and hands each later step its own
// copy: what a step does with its copy, nested vars included, never
// reaches the cache.
func TestCachedSessionIsNotTheCallers(t *testing.T) {
	ctx := context.Background()
	st, rec := processStore(t, redistest.New(t), 0)
	if _, err := st.Create(ctx, &engine.Session{ID: "k4", Vars: map[string]any{"l": []any{"a"}}}, nil); err != nil {
		t.Fatal(err)
	}
	var kept *engine.Session
	if _, err := st.Turn(ctx, "k4", "", func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
		sess.Vars["n"] = 1.0
		kept = sess
		return sess, nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	rec.take()
	for i := range 2 {
		if _, err := st.Turn(ctx, "k4", "", func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
			if sess == kept || sess.Vars["n"] != 1.0 || sess.Vars["l"].([]any)[0] != "a" {
				t.Errorf("turn %d got %v (the turn's own session: %v), want a copy of the stored n=1 and l=[a]", i, sess.Vars, sess == kept)
			}
			sess.Vars["n"] = 2.0
			sess.Vars["l"].([]any)[0] = "step's own"
			return nil, nil, errors.New("nothing to store")
		}); err == nil {
			t.Fatal("the failing step's error was lost")
		}
	}
	if kept.Vars["n"] != 1.0 || kept.Vars["l"].([]any)[0] != "a" {
		t.Errorf("a later step changed the session the turn returned: %v", kept.Vars)
	}
	if cmds := rec.take(); len(cmds) != 0 {
		t.Errorf("turns on the cached session sent %v, want nothing (the steps failed before any write)", cmds)
	}
}

func TestCacheExpiredAndBounded(t *testing.T) {
	ctx := context.Background()
	srv := redistest.New(t)
	st, rec := processStore(t, srv, 2)
	for _, id := range []string{"k4", "k5", "k6"} {
		if _, err := st.Create(ctx, &engine.Session{ID: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.CachedSessions(); n != 2 {
		t.Fatalf("%d sessions cached, want at most 2", n)
	}
	// A conversation that expired (or was deleted) is not found, even if
	// this process still had it cached.
	if err := srv.Client.Del(ctx, srv.Prefix+"{c:k6}:s").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Turn(ctx, "k6", "", count); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("turn on a deleted conversation: %v, want ErrNotFound", err)
	}
	// Without a cache every turn reads first.
	nc, rec2 := processStore(t, srv, -1)
	rec.take()
	for range 2 {
		if _, err := nc.Turn(ctx, "k4", "", count); err != nil {
			t.Fatal(err)
		}
	}
	if got := rec2.take(); len(got) < 4 || got[0] != "get" || got[len(got)-2] != "get" {
		t.Fatalf("uncached turns sent %v, want get+evalsha each", got)
	}
	if nc.CachedSessions() != 0 {
		t.Fatal("a store without a cache cached")
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t)
	for _, id := range []string{"d1", "d2"} {
		if _, err := st.Create(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Turn(ctx, id, "m1", count); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "d1", "d2"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := srv.Client.Keys(ctx, srv.Prefix+"*").Result(); len(keys) != 0 {
		t.Fatalf("left %v", keys)
	}
	if _, err := st.Turn(ctx, "d1", "m2", count); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("turn after delete: %v, want ErrNotFound", err)
	}
}
