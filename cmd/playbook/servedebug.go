package main

import (
	"context"
	"expvar"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// serveExtras are serve's flags for measuring a server: the bench's aids
// and a profiling listener. `playbook bench` sets them on the servers it
// starts.
type serveExtras struct {
	presence string
	connects int
	pprof    string
}

func addServeExtras(fs *flag.FlagSet) *serveExtras {
	x := &serveExtras{}
	fs.StringVar(&x.presence, "simulate-presence", "", `benchmark aid, never for production: "bench" makes the agents of every team online for the bench's even-numbered visitors (visitor id bench-N) and offline for the others, as BENCH.md's conversation mix wants`)
	fs.IntVar(&x.connects, "connects-per-minute", 60, "new visitor websockets allowed a minute from one address, in bursts of a third of it (-1: no limit, for load tests from one machine)")
	fs.StringVar(&x.pprof, "pprof", "", "serve Go's profiles (/debug/pprof/) and counters (/debug/vars, with the Redis commands and round trips this process sent) on this loopback address, such as 127.0.0.1:6060")
	return x
}

// apply sets what the flags change in the App's options and the server's
// configuration, and starts the profiling listener, which stops when ctx
// ends.
func (x *serveExtras) apply(ctx context.Context, log *slog.Logger, rdb redis.UniversalClient, engine store.Engine, opts *conversation.Options, cfg *server.Config) error {
	switch x.presence {
	case "":
	case "bench":
		opts.Presence = bench.SimulatedPresence{}
		log.Warn("--simulate-presence bench: agents are pretended online for even-numbered bench visitors; a benchmark aid, not for production")
	default:
		return usageError("--simulate-presence: the only simulation is \"bench\"")
	}
	if x.connects == 0 || x.connects < -1 {
		return usageError("--connects-per-minute must be at least 1, or -1 for no limit")
	}
	cfg.ConnectsPerMinute = x.connects
	if x.pprof == "" {
		return nil
	}
	return startDebugListener(ctx, log, x.pprof, rdb, engine)
}

// startDebugListener serves Go's profiles and counters (/debug/vars, with
// the Redis commands and round trips rdb sends, and engine's pending
// marks) on addr, a loopback address, until ctx ends. rdb and engine may
// be nil.
func startDebugListener(ctx context.Context, log *slog.Logger, addr string, rdb redis.UniversalClient, engine store.Engine) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageError("--pprof %s: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return usageError("--pprof %s: profiles are served on loopback addresses only", addr)
	}
	if rdb != nil { // the embedded store has no Redis commands to count
		counter := &redisCounter{}
		rdb.AddHook(counter)
		publishRedisCounter(counter)
	}
	if engine != nil {
		publishPending(engine.Sessions(store.SessionOptions{}))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/vars", expvar.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	log.Info("debug listener", "addr", ln.Addr().String(), "profiles", "http://"+ln.Addr().String()+"/debug/pprof/")
	return nil
}

// redisCounter is a go-redis hook that counts what this process sends to
// Redis: round trips (a command, or a whole pipeline) and commands by name.
type redisCounter struct {
	roundTrips atomic.Int64
	byName     sync.Map // name -> *atomic.Int64
}

func (c *redisCounter) add(name string) {
	v, ok := c.byName.Load(name)
	if !ok {
		v, _ = c.byName.LoadOrStore(name, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

func (c *redisCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *redisCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.roundTrips.Add(1)
		c.add(cmd.Name())
		return next(ctx, cmd)
	}
}

func (c *redisCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.roundTrips.Add(1)
		for _, cmd := range cmds {
			c.add(cmd.Name())
		}
		return next(ctx, cmds)
	}
}

// snapshot is the counters as /debug/vars shows them under "redis".
func (c *redisCounter) snapshot() bench.ClientStats {
	s := bench.ClientStats{RoundTrips: c.roundTrips.Load(), Commands: map[string]int64{}}
	c.byName.Range(func(k, v any) bool {
		s.Commands[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return s
}

var (
	publishOnce sync.Once
	published   atomic.Pointer[redisCounter]

	pendingOnce sync.Once
	pendingFrom atomic.Pointer[pendingCounter]
)

// pendingCounter is what /debug/vars reads the pending marks from.
type pendingCounter struct{ st store.PendingMarks }

// publishPending shows in /debug/vars, as "pending_marks", how many turns
// are marked pending in st (work after the store not done yet; left by a
// killed process until the sweep redoes it), or -1 when the store does
// not answer. The soak waits on it: the embedded store cannot be read by
// another process while serve runs.
func publishPending(st store.PendingMarks) {
	pendingFrom.Store(&pendingCounter{st})
	pendingOnce.Do(func() {
		expvar.Publish("pending_marks", expvar.Func(func() any {
			p := pendingFrom.Load()
			if p == nil {
				return -1
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			n, err := p.st.PendingCount(ctx)
			if err != nil {
				return -1
			}
			return n
		}))
	})
}

// publishRedisCounter shows c in /debug/vars as "redis" (expvar names are
// process-wide and can be published once).
func publishRedisCounter(c *redisCounter) {
	published.Store(c)
	publishOnce.Do(func() {
		expvar.Publish("redis", expvar.Func(func() any {
			if c := published.Load(); c != nil {
				return c.snapshot()
			}
			return nil
		}))
		expvar.Publish("goroutines", expvar.Func(func() any { return runtime.NumGoroutine() }))
	})
}

var (
	batchesOnce sync.Once
	batchesFrom atomic.Pointer[redisstore.Coalescer]
)

// publishBatches shows in /debug/vars, as "redis_batches", what co (the
// Redis client's Coalescer) sent: pipelines, the commands they carried,
// the commands dropped because their caller gave up, and those sent alone
// because too many waited.
func publishBatches(co *redisstore.Coalescer) {
	batchesFrom.Store(co)
	batchesOnce.Do(func() {
		expvar.Publish("redis_batches", expvar.Func(func() any {
			co := batchesFrom.Load()
			if co == nil {
				return nil
			}
			st := co.Stats()
			return map[string]int64{"batches": st.Batches.Load(), "commands": st.Commands.Load(),
				"cancelled": st.Cancelled.Load(), "overflow": st.Overflow.Load()}
		}))
	})
}
