package main

import (
	"context"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestPprofWithoutRedis: --pprof on serve without --redis (the embedded
// store, so no Redis client to count commands on) starts the debug
// listener instead of crashing.
func TestPprofWithoutRedis(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := &serveExtras{pprof: "127.0.0.1:0", connects: 60}
	if err := x.apply(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, nil, &conversation.Options{}, &server.Config{}); err != nil {
		t.Fatal(err)
	}
}

// TestDebugVarsCountPendingMarks: with --pprof, /debug/vars says how many
// turns the server's store holds marked pending (the soak waits on it,
// as it cannot open an embedded data directory its server holds).
func TestDebugVarsCountPendingMarks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db, err := embedded.Open(t.TempDir(), embedded.Options{SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng := embedded.NewEngine(db)
	x := &serveExtras{pprof: "127.0.0.1:0", connects: 60}
	if err := x.apply(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, eng, &conversation.Options{}, &server.Config{}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(expvar.Handler())
	defer srv.Close()
	st := eng.Sessions(store.SessionOptions{})
	for i, step := range []struct {
		do   func() error
		want int64
	}{
		{func() error { return nil }, 0},
		{func() error { return st.Mark(ctx, "c1|1") }, 1},
		{func() error { return st.Mark(ctx, "c2|1") }, 2},
		{func() error { return st.Done(ctx, "c1|1") }, 1},
		{func() error { return st.Done(ctx, "c2|1") }, 0},
	} {
		if err := step.do(); err != nil {
			t.Fatal(err)
		}
		n, err := serverPending(ctx, srv.URL)
		if err != nil || n != step.want {
			t.Fatalf("step %d: pending_marks %d, %v; want %d", i, n, err, step.want)
		}
	}
}

// TestDebugVarsCountBatches: /debug/vars says, as redis_batches, how many
// pipelines serve's Coalescer sent and how many commands they carried.
func TestDebugVarsCountBatches(t *testing.T) {
	rds := redistest.New(t)
	rdb := redis.NewClient(rds.Client.Options())
	t.Cleanup(func() { rdb.Close() })
	co := redisstore.Coalesce(rdb, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 3})
	t.Cleanup(co.Close)
	publishBatches(co)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { rdb.Set(context.Background(), fmt.Sprintf("%sk%d", rds.Prefix, i), i, time.Minute) })
	}
	wg.Wait() // a full batch of 3 is sent at once
	var got map[string]int64
	if err := json.Unmarshal([]byte(expvar.Get("redis_batches").String()), &got); err != nil {
		t.Fatal(err)
	}
	if got["batches"] != 1 || got["commands"] != 3 || got["cancelled"] != 0 || got["overflow"] != 0 {
		t.Errorf("redis_batches %v, want 1 batch of 3 commands", got)
	}
}
