package redis_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// benchSession is the reference conversation's session at the size
// question (playbooks/bench/qualify.yaml): what a real turn reads and
// writes.
func benchSession(id string) *engine.Session {
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	return &engine.Session{
		ID: id, Playbook: "qualify", Version: "c11ec78da57f2b1e8e6b3f0c3c1f8a4ed2b6b0b39c7d5a1e4f2a6c9d8e7b1a30",
		Status: engine.StatusWaiting, Card: 4, Locale: "en", Turn: 4,
		Vars:      map[string]any{"email": "visitor1@acme1.com", "score": 0},
		Visitor:   engine.Visitor{ID: "bench-1", Page: "/bench", Language: "en"},
		StartedAt: now, UpdatedAt: now,
	}
}

// benchEntries are a turn's two entries: the visitor's answer and the
// bot's next question with its buttons.
func benchEntries(clientID string) []redisstore.Entry {
	now := time.Date(2026, 11, 22, 8, 0, 1, 0, time.UTC)
	return []redisstore.Entry{
		{From: "visitor", Kind: "message", Text: "visitor1@acme1.com", ClientID: clientID, At: now},
		{From: "bot", Kind: "message", Text: "How many employees?", Author: "Ava", Card: "size", Input: "choice", At: now,
			Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}, {Label: "11-50", Value: "11-50"}, {Label: "51-200", Value: "51-200"}, {Label: "201+", Value: "201+"}}},
	}
}

// BenchmarkTurn measures one atomic store turn of a realistic session with
// two transcript entries and a client message id: with the session cache
// (one EVALSHA) and without (HMGET, then EVALSHA). Against the Redis of
// PLAYBOOK_REDIS_URL (else the in-process miniredis, which says little
// about Redis). "parallel" runs GOMAXPROCS goroutines, each on its own
// conversation. Conversations are replaced every 100 turns so transcripts
// stay small.
func BenchmarkTurn(b *testing.B) {
	srv := redistest.New(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name     string
		cache    int
		parallel bool
	}{{"cached", 0, false}, {"uncached", -1, false}, {"cached-parallel", 0, true}} {
		b.Run(bc.name, func(b *testing.B) {
			st := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix + bc.name + ":", TTL: time.Hour, CacheSize: bc.cache})
			var workers atomic.Int64
			run := time.Now().UnixNano() // conversation ids are new for every run of b
			worker := func(next func() bool) {
				w := workers.Add(1)
				conv, turns, n := "", 0, 0
				for next() {
					if conv == "" || turns == 100 {
						n++
						conv = strconv.FormatInt(run, 36) + "-" + strconv.FormatInt(w, 10) + "-" + strconv.Itoa(n)
						if _, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:]); err != nil {
							b.Error(err)
							return
						}
						turns = 0
					}
					turns++
					id := "m" + strconv.Itoa(turns)
					_, err := st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
						sess.Turn++
						return sess, benchEntries(id), nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			}
			b.ReportAllocs()
			if bc.parallel {
				b.RunParallel(func(pb *testing.PB) { worker(pb.Next) })
				return
			}
			worker(b.Loop)
		})
	}
}

// BenchmarkTurnBatched is the cached turn of BenchmarkTurn from 50
// goroutines at once (as 50 visitors' turns reach one serve process), with
// the Coalescer off and at several windows. Besides ns/op it reports the
// CPU per turn of this process (getrusage) and of redis-server (INFO cpu,
// so only against PLAYBOOK_REDIS_URL), and the turns per pipeline: CPU per
// turn is what batching saves, and it is far steadier than time on a
// shared machine.
func BenchmarkTurnBatched(b *testing.B) {
	srv := redistest.New(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name   string
		window time.Duration // negative: no Coalescer
	}{{"off", -1}, {"window-0", 0}, {"window-50us", 50 * time.Microsecond}, {"window-200us", 200 * time.Microsecond}, {"window-1ms", time.Millisecond}} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := goredis.NewClient(srv.Client.Options())
			defer rdb.Close()
			var co *redisstore.Coalescer
			if bc.window >= 0 {
				co = redisstore.Coalesce(rdb, redisstore.CoalesceOptions{Window: bc.window})
				defer co.Close()
			}
			st := redisstore.New(rdb, redisstore.Options{Prefix: srv.Prefix + bc.name + ":", TTL: time.Hour})
			var workers atomic.Int64
			run := time.Now().UnixNano()
			redisBefore := redisCPU(b, srv.Client)
			cpuBefore := processCPU()
			b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := workers.Add(1)
				conv, turns, n := "", 0, 0
				for pb.Next() {
					if conv == "" || turns == 100 {
						n++
						conv = strconv.FormatInt(run, 36) + "-" + strconv.FormatInt(w, 10) + "-" + strconv.Itoa(n)
						if _, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:]); err != nil {
							b.Error(err)
							return
						}
						turns = 0
					}
					turns++
					id := "m" + strconv.Itoa(turns)
					if _, err := st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
						sess.Turn++
						return sess, benchEntries(id), nil
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/turn")
			if r := redisCPU(b, srv.Client); r >= 0 && redisBefore >= 0 {
				b.ReportMetric((r-redisBefore)*1e6/float64(b.N), "redis-µs/turn")
			}
			if co != nil && co.Stats().Batches.Load() > 0 {
				b.ReportMetric(float64(co.Stats().Commands.Load())/float64(co.Stats().Batches.Load()), "cmds/batch")
			}
		})
	}
}

// processCPU is this process's user + system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is redis-server's user + system CPU seconds (INFO cpu), or -1
// (miniredis has none).
func redisCPU(b *testing.B, rdb goredis.UniversalClient) float64 {
	if !redistest.Real() {
		return -1
	}
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, _ := strconv.ParseFloat(v, 64)
			total += f
		}
	}
	return total
}

// BenchmarkTurnBatchedCluster is BenchmarkTurnBatched on the Redis Cluster
// of PLAYBOOK_REDIS_CLUSTER (skipped without one): 50 goroutines, each on
// its own conversation (spread over the masters by their hash tags). It
// reports this process's CPU per turn, the CPU per turn of every node of
// the cluster (masters and replicas, INFO cpu) and the turns per pipeline.
func BenchmarkTurnBatchedCluster(b *testing.B) {
	cl := redistest.NewCluster(b)
	ctx := context.Background()
	for _, bc := range []struct {
		name   string
		window time.Duration // negative: no Coalescer
	}{{"off", -1}, {"window-0", 0}, {"window-200us", 200 * time.Microsecond}} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
			defer rdb.Close()
			var co *redisstore.Coalescer
			if bc.window >= 0 {
				co = redisstore.Coalesce(rdb, redisstore.CoalesceOptions{Window: bc.window})
				defer co.Close()
			}
			st := redisstore.New(rdb, redisstore.Options{Prefix: cl.Prefix + bc.name + ":", TTL: time.Hour})
			var workers atomic.Int64
			run := time.Now().UnixNano()
			redisBefore := clusterCPU(b, rdb)
			cpuBefore := processCPU()
			b.SetParallelism(max(1, 50/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := workers.Add(1)
				conv, turns, n := "", 0, 0
				for pb.Next() {
					if conv == "" || turns == 100 {
						n++
						conv = strconv.FormatInt(run, 36) + "-" + strconv.FormatInt(w, 10) + "-" + strconv.Itoa(n)
						if _, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:]); err != nil {
							b.Error(err)
							return
						}
						turns = 0
					}
					turns++
					id := "m" + strconv.Itoa(turns)
					if _, err := st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
						sess.Turn++
						return sess, benchEntries(id), nil
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64((processCPU()-cpuBefore).Microseconds())/float64(b.N), "cpu-µs/turn")
			redisAfter := clusterCPU(b, rdb)
			b.ReportMetric((redisAfter[0]-redisBefore[0])*1e6/float64(b.N), "masters-µs/turn")
			b.ReportMetric((redisAfter[1]-redisBefore[1])*1e6/float64(b.N), "replicas-µs/turn")
			if co != nil && co.Stats().Batches.Load() > 0 {
				b.ReportMetric(float64(co.Stats().Commands.Load())/float64(co.Stats().Batches.Load()), "cmds/batch")
			}
		})
	}
}

// clusterCPU is the user + system CPU seconds of the cluster's masters
// and of its replicas (INFO cpu of each node).
func clusterCPU(b *testing.B, rdb *goredis.ClusterClient) [2]float64 {
	var mu sync.Mutex
	var total [2]float64
	for i, each := range []func(context.Context, func(context.Context, *goredis.Client) error) error{rdb.ForEachMaster, rdb.ForEachSlave} {
		err := each(context.Background(), func(ctx context.Context, n *goredis.Client) error {
			info, err := n.Info(ctx, "cpu").Result()
			if err != nil {
				return err
			}
			for _, line := range strings.Split(info, "\n") {
				k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
				if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
					f, _ := strconv.ParseFloat(v, 64)
					mu.Lock()
					total[i] += f
					mu.Unlock()
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return total
}
