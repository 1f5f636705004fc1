package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// scenarios are the named runs of docs/benchmarks.md; flags given on the
// command line override them.
var scenarios = map[string]struct {
	summary string
	flags   map[string]string
}{
	"visitors-1":    {"1 visitor, 20 s", map[string]string{"visitors": "1", "duration": "20s"}},
	"visitors-50":   {"50 visitors, 30 s", map[string]string{"visitors": "50", "duration": "30s"}},
	"visitors-1000": {"1,000 visitors pausing 1 s on average before each turn, 30 s", map[string]string{"visitors": "1000", "think": "1s", "duration": "30s"}},
	"saturate-1000": {"1,000 visitors answering at once (a closed loop far past saturation), 30 s", map[string]string{"visitors": "1000", "duration": "30s"}},
	"idle-10k":      {"10,000 idle widgets held 20 s", map[string]string{"idle": "10000", "hold": "20s", "ceiling": "0"}},
	"idle-100k":     {"100,000 idle widgets held 20 s (needs 101,000 open files a process and several loopback source addresses)", map[string]string{"idle": "100000", "hold": "20s", "ceiling": "0", "sources": "16"}},
	"two-servers":   {"50 visitors split over 2 serve processes on one Redis, 30 s", map[string]string{"visitors": "50", "duration": "30s", "servers": "2"}},
	"embedded":      {"50 visitors, serve's embedded store, 30 s", map[string]string{"visitors": "50", "duration": "30s", "embedded": "true"}},
	"embedded-vs-redis": {"embedded and visitors-50 alternated, 3 rounds of 30 s each: turns/s, latency, CPU per turn, ratios",
		map[string]string{"visitors": "50", "duration": "30s", "compare": "embedded,redis", "runs": "3"}},
	"serve-vs-reference": {"serve on Redis and the reference server alternated (--reference), 50 visitors, 3 rounds of 30 s each: turns/s, p99, CPU per turn, Redis round trips, ratios",
		map[string]string{"visitors": "50", "duration": "30s", "compare": "redis,reference", "runs": "3"}},
}

func scenarioList() string {
	names := []string{"visitors-1", "visitors-50", "visitors-1000", "saturate-1000", "idle-10k", "idle-100k", "two-servers", "embedded", "embedded-vs-redis", "serve-vs-reference"}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "  %-18s %s\n", n, scenarios[n].summary)
	}
	return b.String()
}

var benchCommand = &command{
	name:    "bench",
	summary: "measure speed, scale and memory with simulated visitors",
	usage:   "bench [--scenario NAME] [--visitors 50] [--duration 30s] [--redis URL | --embedded] [--reference] [--idle N [--in-process]] [--json]",
	help: `Starts a server (playbook serve, as a separate process, so its CPU and
memory are measured apart from the load) on a free loopback port, and
drives simulated visitors over real websockets through the reference
conversation of BENCH.md (playbooks/bench/qualify.yaml, built in): start,
every answer, every reply and the final outcome checked; a difference is
an error. Each visitor waits for the bot's last message of a turn before
it sends the next; a turn's latency is from sending the visitor's frame to
receiving that message. Each conversation runs on a new websocket.

Without --redis, a throwaway redis-server is started on a free loopback
port (and stopped after); --embedded uses serve's embedded store instead.
After the visitors, the same number of workers run only the store's atomic
session read-modify-write against the same Redis (the ceiling), and the
end-to-end turns/s are compared with it.

Scenarios (--scenario NAME; flags given as well override them):
` + scenarioList() + `
  playbook bench --scenario visitors-50
  playbook bench --visitors 200 --duration 1m --redis redis://127.0.0.1:6379/0
  playbook bench --redis 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002   (a Redis Cluster)
  playbook bench --url http://127.0.0.1:8080 --visitors 10 --conversations 1000
  playbook bench --scenario embedded-vs-redis --duration 15s --runs 3
  playbook bench --reference --duration 15s --runs 3
  playbook bench --compare cluster,redis --cluster 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002 --duration 10s

The reference server (--reference, or --compare redis,reference) is the
least a server can do for the same visitors: it speaks serve's visitor
frames, steps the same playbook and stores each turn with one EVALSHA of
serve's turn script, on the same keys, and writes the replies in one
write; no inbox, queue, timers, CRM or live hub. The bench starts it as
its own process (playbook bench --reference-server ADDR) and alternates
it with serve on the same Redis, then prints the ratios of turns/s, p99,
and CPU per turn of the server, Redis and the bench, with the Redis round
trips and commands per turn of each (docs/benchmarks.md).

Idle widgets past the open-file limit (--idle N --in-process): each
TCP connection takes a file descriptor, which bounds --idle to the
open-file limit. With --in-process the bench runs serve's own code (the
serve command with the flags the bench gives it, its store, middleware
and visitor websocket handler) inside a child process of its own, on
in-memory connections (no file descriptor), and opens N widgets there:
each does the widget's handshake by hand (the HTTP upgrade, the start
frame, the greeting checked) and then keeps no goroutine: its connection
answers the server's pings as they arrive. A control run of the same
clients against a handler that only upgrades and answers the start frame
measures the clients' own share; each round runs the control, then serve
(--runs rounds, default 1), each in a fresh process, and the report gives
serve's RSS per widget (its growth minus the control's) and Go's view.
GOMEMLIMIT, if set, applies to each child (serve and the clients):
  playbook bench --idle 100000 --in-process --hold 35s
  GOMEMLIMIT=1400MiB playbook bench --idle 100000 --in-process --runs 2 --embedded

Every handoff is checked in the inbox when the bench starts the servers:
after the visitors, an admin agent the bench added signs in and finds
each handed-off conversation open, and in its team's Unassigned queue or
assigned (the inbox API, the same on every engine).

The soak (--soak) is a long run with faults: 1,000 visitors pausing 1 s
for 10 minutes that reconnect, resume and resend as the widget does, while
the server is killed (SIGKILL) and started again every --restart-every;
every conversation is checked against the reference and the store, and
the leads against the CRM (docs/reliability.md). With --embedded the
server keeps its data directory across the kills, and the conversations
are checked against it after the last stop. With --graceful the server
is stopped with SIGTERM (it drains: running turns finish, sockets close
with a reconnect hint) instead of killed:
  playbook bench --soak
  playbook bench --soak --visitors 100 --duration 1m --restart-every 20s
  playbook bench --soak --graceful --visitors 100 --duration 1m --restart-every 20s
  playbook bench --soak --embedded --visitors 100 --duration 2m --restart-every 30s

Only loopback addresses are used; every run stops by itself after its
duration or its number of conversations.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		var o benchOptions
		fs.StringVar(&o.scenario, "scenario", "", "a named run (see above)")
		fs.IntVar(&o.visitors, "visitors", 50, "visitors talking at once")
		fs.DurationVar(&o.think, "think", 0, "mean pause of a visitor before each turn, as a person typing (0: answer at once, which saturates the machine)")
		fs.DurationVar(&o.duration, "duration", 30*time.Second, "how long turns are measured (0: until --conversations are done)")
		fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "load before the measured window, not counted")
		fs.IntVar(&o.conversations, "conversations", 0, "stop after this many conversations (0: no bound)")
		fs.IntVar(&o.servers, "servers", 1, "serve processes on the same Redis; visitors are split over them")
		fs.StringVar(&o.redisURL, "redis", "", "Redis to use (default: start a throwaway redis-server)")
		fs.BoolVar(&o.embedded, "embedded", false, "use serve's embedded store (a data directory) instead of Redis")
		fs.StringVar(&o.url, "url", "", "comma-separated URLs of servers already running (started with --simulate-presence bench --connects-per-minute -1) instead of starting them")
		fs.StringVar(&o.serverDebug, "server-debug", "", "with --url: comma-separated --pprof addresses of those servers, for Redis round trips")
		fs.StringVar(&o.serverPIDs, "server-pid", "", "with --url: comma-separated process ids of those servers, for their CPU and memory")
		fs.IntVar(&o.idle, "idle", 0, "instead of conversations, open this many idle widgets and measure memory per connection")
		fs.BoolVar(&o.inProcess, "in-process", false, "with --idle: run serve's own code inside the bench, its visitor websockets on in-memory connections (no file descriptor each, so past the open-file limit), alternated with a control run of the same clients against a handler that only upgrades; prints serve's RSS per idle widget (see below)")
		fs.StringVar(&o.inProcessChild, "in-process-child", "", "internal: one run of --in-process (serve or control), its serve flags after --")
		fs.DurationVar(&o.hold, "hold", 20*time.Second, "with --idle: how long the idle connections stay open")
		fs.IntVar(&o.idleTurns, "idle-turns", 0, "with --idle (not --in-process): each widget answers this many turns of its conversation past the greeting before it goes idle (a visitor who chatted, then went quiet)")
		fs.DurationVar(&o.ceiling, "ceiling", 10*time.Second, "how long the ceiling (store-only turns) runs; 0 skips it")
		fs.IntVar(&o.sources, "sources", 8, "loopback source addresses (127.0.0.1..N) to spread connections over")
		fs.DurationVar(&o.turnTimeout, "turn-timeout", 10*time.Second, "a turn answered later than this is an error")
		fs.StringVar(&o.serverFlags, "server-flags", "", "extra flags for the serve processes, space-separated")
		fs.StringVar(&o.profile, "server-profile", "", "write a CPU profile of the (first) server over the measured window to this file")
		fs.StringVar(&o.selfProfile, "bench-profile", "", "write a CPU profile of the bench itself (the load generator) to this file")
		fs.StringVar(&o.heapProfile, "server-heap", "", "write a heap profile of the (first) server to this file, at the end of the window (with --idle: with all connections open)")
		fs.IntVar(&o.procs, "bench-procs", 0, "GOMAXPROCS of the bench itself, the load generator (0: Go's default; the servers keep theirs)")
		fs.StringVar(&o.compare, "compare", "", "alternate runs on two engines, embedded,redis or redis,reference (serve on Redis and the reference server) or cluster,redis (serve on the Redis Cluster of --cluster and on one node): each engine once a round, --runs rounds, the same load; prints turns/s, latency and server CPU per turn of each run, their ranges and the ratio")
		fs.StringVar(&o.cluster, "cluster", "", "with --compare ...,cluster: the Redis Cluster's nodes (comma-separated HOST:PORT, loopback)")
		fs.IntVar(&o.runs, "runs", 3, "with --compare: how many rounds; with --in-process: how many rounds of the control and serve (default 1)")
		fs.BoolVar(&o.withReference, "reference", false, "compare serve on Redis with the reference server, alternated (--compare redis,reference)")
		fs.StringVar(&o.referenceServer, "reference-server", "", "run only the reference server on this loopback address (what --reference starts), with --redis and --prefix, until interrupted")
		fs.StringVar(&o.prefix, "prefix", "pb:", "with --reference-server: the prefix of its Redis keys")
		fs.BoolVar(&o.json, "json", false, "print the report as JSON")
		fs.BoolVar(&o.keepLogs, "keep-logs", false, "keep the servers' and Redis's logs (their folder is printed)")
		fs.BoolVar(&o.soak, "soak", false, "a long run with faults: resilient visitors (1,000, pausing 1s, for 10m unless set) while the server is killed and restarted every --restart-every; every conversation checked against the reference and the store, every lead against the CRM (see docs/reliability.md)")
		fs.DurationVar(&o.restartEvery, "restart-every", 2*time.Minute, "with --soak: how often the server is killed (SIGKILL) and started again")
		fs.BoolVar(&o.graceful, "graceful", false, "with --soak: stop the server with SIGTERM (a graceful drain, as an orchestrator's rolling restart does) instead of SIGKILL")
		return func(ctx context.Context, std *stdio, args []string) error {
			if o.inProcessChild != "" {
				return inProcessChild(ctx, std, &o, args)
			}
			if len(args) > 0 {
				return usageError("bench takes no arguments")
			}
			if o.referenceServer != "" {
				return runReferenceServer(ctx, std, &o)
			}
			set := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
			if set["conversations"] && !set["duration"] {
				// A number of conversations alone bounds the run.
				o.duration, o.warmup = 0, 0
			}
			if o.soak {
				for k, v := range map[string]string{"visitors": "1000", "think": "1s", "duration": "10m"} {
					if !set[k] {
						if err := fs.Set(k, v); err != nil {
							return err
						}
					}
				}
				return runSoak(ctx, std, &o)
			}
			if o.scenario != "" {
				sc, ok := scenarios[o.scenario]
				if !ok {
					return usageError("no scenario %q; the scenarios are:\n%s", o.scenario, scenarioList())
				}
				for k, v := range sc.flags {
					if !set[k] {
						if err := fs.Set(k, v); err != nil {
							return err
						}
					}
				}
			}
			if o.inProcess {
				if !set["runs"] {
					o.runs = 1
				}
				return runInProcess(ctx, std, &o)
			}
			if o.withReference {
				if o.compare != "" && o.compare != "redis,reference" {
					return usageError("--reference compares serve on Redis with the reference server: it takes no other --compare")
				}
				o.compare = "redis,reference"
			}
			return runBench(ctx, std, &o)
		}
	},
}

type benchOptions struct {
	scenario      string
	visitors      int
	think         time.Duration
	duration      time.Duration
	warmup        time.Duration
	conversations int
	servers       int
	redisURL      string
	embedded      bool
	url           string
	serverDebug   string
	serverPIDs    string
	idle          int
	idleTurns     int
	inProcess     bool
	// inProcessChild is a child of an --in-process run: serve or control.
	inProcessChild string
	settle         time.Duration // with --in-process-child (tests): see bench.InProcessOptions
	hold           time.Duration
	ceiling        time.Duration
	sources        int
	turnTimeout    time.Duration
	serverFlags    string
	profile        string
	selfProfile    string
	heapProfile    string
	procs          int
	json           bool
	compare        string
	cluster        string
	runs           int
	keepLogs       bool
	soak           bool
	restartEvery   time.Duration
	graceful       bool
	// withReference is --reference; reference makes measureBench start
	// the reference server instead of serve (a --compare run).
	withReference   bool
	reference       bool
	referenceServer string
	prefix          string
}

func runBench(ctx context.Context, std *stdio, o *benchOptions) error {
	if o.compare != "" {
		return runCompare(ctx, std, o)
	}
	rep, err := measureBench(ctx, std, o)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.WriteText(std.out)
	}
	errors := 0
	if rep.Load != nil {
		errors = rep.Load.Errors
	}
	if rep.Idle != nil {
		errors = rep.Idle.Errors
	}
	if errors > 0 {
		return failf("%d errors: replies that differ from the reference conversation, timeouts or broken connections", errors)
	}
	return nil
}

// measureBench makes one run of o and returns its report.
func measureBench(ctx context.Context, std *stdio, o *benchOptions) (rep *bench.Report, err error) {
	if o.visitors < 1 || o.servers < 1 || o.idle < 0 {
		return nil, usageError("--visitors and --servers must be at least 1")
	}
	if o.idleTurns < 0 || (o.idleTurns > 0 && o.idle == 0) {
		return nil, usageError("--idle-turns K goes with --idle N: the turns each idle widget answers before it holds")
	}
	if o.idle == 0 && o.duration <= 0 && o.conversations <= 0 {
		return nil, usageError("set --duration or --conversations: a run must be bounded")
	}
	if o.embedded && o.redisURL != "" {
		return nil, usageError("--embedded and --redis exclude each other")
	}
	if o.embedded && o.servers > 1 {
		return nil, usageError("--embedded keeps the store inside one server; use --redis for several")
	}
	if o.reference && (o.embedded || o.url != "" || o.idle > 0) {
		return nil, usageError("the reference server stores in Redis and runs the conversations only: no --embedded, --url or --idle")
	}
	if o.selfProfile != "" {
		f, err := os.Create(o.selfProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	progress := std.err
	note := func(format string, args ...any) { fmt.Fprintf(progress, "bench: "+format+"\n", args...) }
	if err := idleCapacity(o); err != nil {
		return nil, err
	}
	dir, done, err := benchWorkDir("playbook-bench-", o.keepLogs, note)
	if err != nil {
		return nil, err
	}
	defer func() { done(err) }()

	rep = &bench.Report{Scenario: describe(o)}
	rep.Setup = bench.Setup{Servers: o.servers, Visitors: o.visitors, Duration: o.duration, Warmup: o.warmup, Conversations: o.conversations, Sources: o.sources}
	if o.idle > 0 {
		rep.Setup.Visitors, rep.Setup.Duration, rep.Setup.Warmup = 0, 0, 0
	}
	probe := &bench.Probe{}

	// The store.
	var rdb redis.UniversalClient
	redisURL := o.redisURL
	var redisVersion string
	switch {
	case o.embedded:
		rep.Setup.Store = "serve's embedded store (a data directory of the server process)"
	case redisURL == "" && o.url == "":
		note("starting redis-server")
		rs, err := bench.StartRedis(ctx, dir)
		if err != nil {
			return nil, err
		}
		defer rs.Stop(5 * time.Second)
		redisURL = rs.URL
		rep.Setup.Store = fmt.Sprintf("redis-server %s at %s, started by the bench (no persistence)", rs.Version, rs.URL)
	case redisURL != "":
		rep.Setup.Store = "Redis at " + redisURL
	default:
		rep.Setup.Store = "whatever the servers at --url use"
	}
	if redisURL != "" {
		for _, n := range splitList(redisURL) {
			if err := loopbackURL(strings.Replace(n, "+cluster://", "://", 1)); err != nil {
				return nil, usageError("--redis: %v", err)
			}
		}
		c, err := dialRedis(redisURL)
		if err != nil {
			return nil, usageError("%v", err)
		}
		rdb = c
		defer rdb.Close()
		redisVersion = bench.RedisVersion(ctx, rdb)
		probe.Redis = rdb
	}

	// The servers.
	var checker bench.InboxAgent
	var urls []string
	var firstDebug string
	prefix := "pbbench" + randomHex(4) + ":"
	if o.url != "" {
		urls = splitList(o.url)
		for _, u := range splitList(o.serverDebug) {
			probe.DebugURLs = append(probe.DebugURLs, "http://"+strings.TrimPrefix(u, "http://"))
		}
		for _, s := range splitList(o.serverPIDs) {
			pid, err := strconv.Atoi(s)
			if err != nil {
				return nil, usageError("--server-pid %q: %v", s, err)
			}
			probe.PIDs = append(probe.PIDs, pid)
		}
		rep.Setup.Servers = len(urls)
	} else {
		books, exe, err := benchPlaybook(dir)
		if err != nil {
			return nil, err
		}
		if o.idle == 0 && !o.reference {
			// The agent of the inbox check, written into the store
			// before the servers start (the embedded one is theirs
			// once they run).
			if checker, err = addInboxChecker(ctx, rdb, prefix, filepath.Join(dir, "data"), o.embedded); err != nil {
				return nil, err
			}
		}
		for i := 0; i < o.servers; i++ {
			args := []string{"--playbooks", books, "--prefix", prefix, "--simulate-presence", "bench",
				"--connects-per-minute", "-1", "--pprof", "127.0.0.1:0", "--idle-ttl", "1h", "--default-playbook", "qualify"}
			if redisURL != "" {
				args = append(args, "--redis", redisURL)
			} else if o.embedded {
				args = append(args, "--data", filepath.Join(dir, "data"))
			}
			args = append(args, strings.Fields(o.serverFlags)...)
			start := func() (*bench.Server, error) {
				return bench.StartServer(ctx, exe, args, filepath.Join(dir, fmt.Sprintf("serve-%d.log", i+1)))
			}
			if o.reference {
				start = func() (*bench.Server, error) {
					return bench.StartCommand(ctx, exe, []string{"bench", "--reference-server", "127.0.0.1:0", "--redis", redisURL, "--prefix", prefix},
						filepath.Join(dir, fmt.Sprintf("reference-%d.log", i+1)))
				}
			}
			note("starting server %d of %d", i+1, o.servers)
			srv, err := start()
			if err != nil {
				return nil, err
			}
			defer srv.Stop(15 * time.Second)
			if checker.URL == "" {
				checker.URL = srv.URL
			}
			urls = append(urls, srv.URL)
			probe.PIDs = append(probe.PIDs, srv.PID)
			rep.Setup.ServerPIDs = append(rep.Setup.ServerPIDs, srv.PID)
			if srv.DebugURL != "" {
				probe.DebugURLs = append(probe.DebugURLs, srv.DebugURL)
				if firstDebug == "" {
					firstDebug = srv.DebugURL
				}
			}

		}
	}
	rep.Machine = bench.ThisMachine(redisVersion)
	if o.procs > 0 {
		runtime.GOMAXPROCS(o.procs)
	}

	// The measurement.
	var profileDone chan error
	startProfile := func(d time.Duration) {
		if o.profile == "" || firstDebug == "" {
			return
		}
		profileDone = make(chan error, 1)
		go func() { profileDone <- fetchProfile(ctx, firstDebug, d, o.profile) }()
	}
	if o.idle > 0 {
		note("opening %d idle widgets", o.idle)
		samples := 0
		res, err := bench.Idle(ctx, bench.IdleOptions{
			URLs: urls, Connections: o.idle, Turns: o.idleTurns, Hold: o.hold, TurnTimeout: o.turnTimeout, Sources: o.sources,
			Sample: func(ctx context.Context) bench.Sample {
				s := probe.Sample(ctx)
				if samples++; samples == 2 && o.heapProfile != "" && firstDebug != "" {
					if err := fetchHeap(ctx, firstDebug, o.heapProfile); err != nil {
						note("server heap profile: %v", err)
					}
				}
				return s
			},
		})
		if err != nil {
			return nil, err
		}
		ir := &bench.IdleReport{IdleResult: res, Hold: o.hold, Turns: o.idleTurns, GoBefore: res.Before.Go, GoConnected: res.Connected.Go,
			BaseRSS: res.Before.ServerRSS, ConnectedRSS: res.Connected.ServerRSS, AfterRSS: res.After.ServerRSS, PeakRSS: res.After.ServerPeakRSS}
		if res.Connections > 0 {
			ir.PerConnRSS = float64(res.Connected.ServerRSS-res.Before.ServerRSS) / float64(res.Connections)
			ir.RedisPerConn = bench.RedisBetween(res.Before, res.Connected, res.Connections)
		}
		if w := res.After.At.Sub(res.Connected.At); w > 0 {
			ir.HoldCPUCores = (res.After.ServerCPU - res.Connected.ServerCPU).Seconds() / w.Seconds()
		}
		rep.Idle = ir
	} else {
		note("%d visitors talking for %v (after %v of warm-up)", o.visitors, o.duration, o.warmup)
		// Every handoff is checked in the inbox, through the inbox API of
		// the servers the bench started (not with --url: it takes the
		// chats), on every engine.
		var queueCheck func(context.Context, []string, time.Duration) (int, []error)
		if checker.Email != "" {
			queueCheck = func(ctx context.Context, ids []string, wait time.Duration) (int, []error) {
				return bench.CheckQueuedAPI(ctx, checker, ids, wait)
			}
		}
		sample := probe.Sample
		if o.profile != "" {
			sample = func(ctx context.Context) bench.Sample {
				s := probe.Sample(ctx)
				if profileDone == nil && o.duration > 0 {
					startProfile(o.duration)
				}
				return s
			}
		}
		if o.heapProfile != "" && firstDebug != "" {
			inner := sample
			samples := 0
			sample = func(ctx context.Context) bench.Sample {
				s := inner(ctx)
				if samples++; samples == 2 {
					if err := fetchHeap(ctx, firstDebug, o.heapProfile); err != nil {
						note("server heap profile: %v", err)
					}
				}
				return s
			}
		}
		res, err := bench.Run(ctx, bench.Options{
			URLs: urls, Visitors: o.visitors, Think: o.think, Duration: o.duration, Warmup: o.warmup,
			Conversations: o.conversations, TurnTimeout: o.turnTimeout, Sources: o.sources, Sample: sample,
			QueueCheck: queueCheck,
		})
		if err != nil {
			return nil, err
		}
		rep.Load = &bench.LoadReport{Result: res, Resources: bench.ResourcesBetween(res.Before, res.After, res.Turns)}
		if profileDone != nil {
			if err := <-profileDone; err != nil {
				note("server profile: %v", err)
			} else {
				note("server CPU profile written to %s (go tool pprof -top %s)", o.profile, o.profile)
			}
		}
		if o.ceiling > 0 && rdb != nil {
			note("ceiling: %d workers on the store alone for %v", o.visitors, o.ceiling)
			cprobe := &bench.Probe{Redis: probe.Redis}
			c, err := bench.Ceiling(ctx, bench.CeilingOptions{Redis: rdb, Prefix: prefix + "ceiling:", Workers: o.visitors,
				Duration: o.ceiling, Warmup: time.Second, Sample: cprobe.Sample})
			if err != nil {
				return nil, err
			}
			cr := &bench.CeilingReport{CeilingResult: c}
			res := bench.ResourcesBetween(c.Before, c.After, c.Turns)
			cr.RedisCPUCores, cr.BenchCPUCores, cr.MachineCores, cr.Redis = res.RedisCPUCores, res.BenchCPUCores, res.MachineCores, res.Redis
			rep.Ceiling = cr
			// With paced visitors the end-to-end rate is what they ask
			// for, not what the server can do: no ratio then.
			if c.TurnsPerSec > 0 && o.think == 0 {
				rep.Ratio = rep.Load.TurnsPerSec / c.TurnsPerSec
			}
		}
	}

	if rdb != nil && o.url == "" {
		m, err := bench.KeysPerMaster(ctx, rdb, prefix)
		if err != nil {
			note("keys per master: %v", err)
		}
		rep.Masters = m
	}
	return rep, nil
}

// addInboxChecker adds the agent CheckQueuedAPI signs in as: to the Redis
// the servers will use, or to the embedded store in data before a server
// opens it.
func addInboxChecker(ctx context.Context, rdb redis.UniversalClient, prefix, data string, embeddedStore bool) (bench.InboxAgent, error) {
	var inbox store.InboxEngine
	switch {
	case embeddedStore:
		db, err := embedded.Open(data, embedded.Options{SweepEvery: -1})
		if err != nil {
			return bench.InboxAgent{}, err
		}
		defer db.Close()
		inbox = embedded.NewInbox(db)
	case rdb != nil:
		inbox = redisstore.NewInbox(rdb, prefix)
	default:
		return bench.InboxAgent{}, nil
	}
	return bench.AddInboxAgent(ctx, inbox, prefix, "sales", "")
}

func describe(o *benchOptions) string {
	var s string
	switch {
	case o.idle > 0:
		s = fmt.Sprintf("%d idle widgets", o.idle)
	default:
		s = fmt.Sprintf("%d visitors", o.visitors)
	}
	if o.servers > 1 {
		s += fmt.Sprintf(", %d servers", o.servers)
	}
	if o.embedded {
		s += ", embedded store"
	}
	if o.reference {
		s += ", the reference server"
	}
	if o.scenario != "" {
		s = o.scenario + " (" + s + ")"
	}
	return s
}

// loopbackURL checks that a Redis URL points at this machine.
// benchWorkDir raises the open-file limit and makes the folder for a run's
// files and logs; done removes it, unless keep is set or the run failed
// (then it says where it is).
func benchWorkDir(name string, keep bool, note func(string, ...any)) (dir string, done func(error), err error) {
	if _, err := bench.RaiseFileLimit(); err != nil {
		note("could not raise the open-file limit: %v", err)
	}
	dir, err = os.MkdirTemp("", name)
	if err != nil {
		return "", nil, err
	}
	return dir, func(err error) {
		if keep || err != nil {
			note("logs kept in %s", dir)
			return
		}
		os.RemoveAll(dir)
	}, nil
}

// idleCapacity checks, before anything starts, that this machine can hold
// o.idle connections (open files, source ports).
func idleCapacity(o *benchOptions) error {
	if o.idle == 0 {
		return nil
	}
	files, err := bench.RaiseFileLimit()
	if err != nil {
		return err
	}
	return bench.CheckCapacity(o.idle, o.sources, files)
}

// benchPlaybook writes the reference playbook into dir/playbooks for the
// serve processes, and returns that folder and this executable.
func benchPlaybook(dir string) (books, exe string, err error) {
	books = filepath.Join(dir, "playbooks")
	if err := os.MkdirAll(books, 0o755); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(filepath.Join(books, "qualify.yaml"), playbooks.BenchQualify, 0o644); err != nil {
		return "", "", err
	}
	exe, err = os.Executable()
	return books, exe, err
}

func loopbackURL(raw string) error {
	u, err := url.Parse(withScheme(raw))
	if err != nil {
		return err
	}
	host := u.Hostname()
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s is not a loopback address; the bench only runs on this machine", host)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// fetchHeap saves a server's heap profile (after a GC) into file.
func fetchHeap(ctx context.Context, debugURL, file string) error {
	return fetchTo(ctx, debugURL+"/debug/pprof/heap?gc=1", 30*time.Second, file)
}

// fetchProfile records a CPU profile of d seconds from a server's debug
// listener into file.
func fetchProfile(ctx context.Context, debugURL string, d time.Duration, file string) error {
	secs := max(1, int(d.Seconds()))
	return fetchTo(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", debugURL, secs), d+30*time.Second, file)
}

func fetchTo(ctx context.Context, url string, timeout time.Duration, file string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
