package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/gctune"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

var serveCommand = &command{
	name:    "serve",
	summary: "run the chat server: widget, demo site and visitor websocket",
	usage:   "serve [--addr 127.0.0.1:8080] [--playbooks DIR] [--data DIR | --redis URL]",
	help: `Serves the playbooks in a folder to website visitors: the chat widget
(/widget.js), a demo website (/), and the websocket the widget talks to.
Playbooks reload by themselves when their files change; a file with
mistakes is reported in the log and its previous version keeps serving.

Without --redis, conversations, the inbox, agents and CRM records are kept
in the data directory (--data, default ./data): they survive a restart and
a crash of the process, and one serve process at a time may use the
directory. With --redis, they live in Redis, and any number of serve
processes can share them:

  playbook serve --redis redis://localhost:6379/0
  playbook serve --redis redis://10.0.0.1:7000,redis://10.0.0.2:7000   (a Redis Cluster)
  playbook serve --redis redis+cluster://10.0.0.1:7000                  (a Redis Cluster, one seed node)

Behind a reverse proxy or load balancer, name it with --trusted-proxies so
that limits count each visitor, not the proxy:

  playbook serve --trusted-proxies 10.0.0.0/8,127.0.0.1

Put the widget on a page with one tag:

  <script src="https://chat.example.com/widget.js" data-playbook="website-sales" async></script>
`,
	config: serveConfig,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
		dir := fs.String("playbooks", "playbooks", "folder of playbooks to serve")
		redisURL := fs.String("redis", "", "Redis URL, or a comma-separated list of cluster nodes (default: in memory)")
		prefix := fs.String("prefix", "pb:", "prefix of every Redis key")
		secret := fs.String("secret", "", "secret that signs visitor tokens, the same for every process; prefer PLAYBOOK_SECRET or --secret-file to the command line (default: generated once and kept in Redis)")
		admin := fs.String("admin-token", "", "token for the admin API (default: the admin API is off)")
		origins := fs.String("allowed-origins", "localhost:*,127.0.0.1:*", "comma-separated hosts whose pages may embed the widget, such as www.example.com,*.example.com")
		idle := fs.Duration("idle-ttl", 24*time.Hour, "how long an idle conversation's session and transcript are kept")
		retention := days(90 * 24 * time.Hour)
		fs.Var(&retention, "retention", "how long a conversation's inbox record, its files and the visitor's list of conversations are kept after its last activity, in days (90d) or as a duration (2160h); CRM records are kept")
		tokenTTL := fs.Duration("token-ttl", 7*24*time.Hour, "how long a visitor can resume a conversation")
		hosts := fs.String("allow-hosts", "", "comma-separated hosts call cards may reach (default: what each playbook allows)")
		private := fs.Bool("allow-private-calls", false, "let call cards reach private and loopback addresses")
		def := fs.String("default-playbook", "", "playbook for pages no trigger matches (default: website-sales)")
		proxies := fs.String("trusted-proxies", "", "comma-separated reverse proxies (CIDRs or addresses, e.g. 10.0.0.0/8,127.0.0.1) whose X-Forwarded-For names the client; limits then count per client, not per proxy (default: none, the header is ignored)")
		logJSON := fs.Bool("log-json", false, "log as JSON lines instead of text")
		accessLog := fs.Bool("access-log", true, "log one line per HTTP request: request id, method, route, status, duration, bytes (never the query string)")
		logIPs := fs.Bool("log-ips", false, "add the client address to the access log (personal data)")
		drainTimeout := fs.Duration("drain-timeout", 10*time.Second, "on SIGTERM or Ctrl-C, how long running turns and requests may take to finish before the process closes what is left and exits")
		drainDelay := fs.Duration("drain-delay", 0, "on SIGTERM or Ctrl-C, how long /readyz answers 503 while the process still serves and accepts, before the drain: time for a load balancer that polls /readyz to move visitors elsewhere")
		extras := addServeExtras(fs)
		mx := addServeMetrics(fs)
		data := fs.String("data", "data", "without --redis: the data directory of the embedded store, which one process at a time may use")
		fsync := fs.Bool("fsync", false, "without --redis: wait for the disk (fsync) on every write, so a turn survives a power cut, not only the process being killed; slower")
		redisBatch := fs.Duration("redis-batch-window", redisstore.DefaultCoalesceWindow, "with --redis: batch the commands of concurrent turns into one pipeline (fewer system calls for the server and Redis); how long the first command of a batch waits for others (0: no wait, a batch holds what arrived while the previous ones were on the wire); negative (-1s): off, every command on its own")
		batchDelay := fs.Duration("batch-delay", embedded.DefaultMaxBatchDelay, "without --redis: how long a commit waits for more writes to join it when the last one had several and the process is busy (goroutines waiting for a CPU; group commit: fewer, larger commits cost less CPU per write under load, and at a light load nobody waits); negative: never wait")
		gcHeadroom := fs.Int("gc-headroom", 128, "MiB the Go heap may grow by before the next garbage collection (at least its live size, as Go's default GOGC=100 allows): fewer collections for a small heap, the same as Go's default for a large one; 0: Go's default alone; the GOGC environment variable, if set, wins")
		hours := fs.String("hours", "", "teams' opening hours for open_hours(), e.g. \"sales=mon-fri 09:00-18:00 Europe/Berlin; support=mon-sat 08:00-20:00\" (default: always open)")
		smtpURL := fs.String("smtp", "", "send transcripts by email: smtp://user:password@host:587?from=chat@example.com")
		files := addFileFlags(fs)
		crmFields := fs.String("crm-fields", "", "fields the inbox's details panel shows, per kind, e.g. \"person=name,email,phone,owner; lead=title,value,stage\" (kinds: person, organization, lead, deal)")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageError("serve takes no file names; use --playbooks DIR")
			}
			var h slog.Handler = slog.NewTextHandler(std.err, nil)
			if *logJSON {
				h = slog.NewJSONHandler(std.err, nil)
			}
			log := slog.New(h)
			if *gcHeadroom < 0 {
				return usageError("--gc-headroom is in MiB, 0 or more")
			}
			if stopGC, ok := gctune.Tune(uint64(*gcHeadroom) << 20); ok {
				defer stopGC()
			}
			m := mx.build()
			var rdb redis.UniversalClient
			var engine store.Engine
			if *redisURL != "" {
				c, closeStore, err := openRedis(*redisURL, log)
				if err != nil {
					return err
				}
				defer closeStore()
				rdb = c
				if *redisBatch >= 0 {
					// Before Observe: a batch counts as one round trip.
					co := redisstore.Coalesce(rdb, redisstore.CoalesceOptions{Window: *redisBatch})
					publishBatches(co)
					defer func() {
						co.Close()
						st := co.Stats()
						log.Info("redis command batches", "window", *redisBatch, "batches", st.Batches.Load(), "commands", st.Commands.Load(),
							"cancelled", st.Cancelled.Load(), "overflow", st.Overflow.Load())
					}()
				}
				redisstore.Observe(rdb, observer(m, "redis"))
				engine = redisstore.NewEngine(rdb, *prefix)
			} else {
				db, err := embedded.Open(*data, embedded.Options{Sync: *fsync, Logger: log, MaxBatchDelay: *batchDelay, Observer: observer(m, "embedded")})
				if err != nil {
					return err
				}
				defer db.Close()
				engine = embedded.NewEngine(db)
				log.Info("no --redis given: using the embedded store; conversations, the inbox, agents and CRM records are kept in the data directory, for this one process", "data", db.Dir(), "fsync", *fsync)
			}
			if *redisURL != "" {
				// The inbox's team keys before issue 12's layout.
				n, err := redisstore.NewInbox(rdb, *prefix).MoveLegacyTeamKeys(ctx)
				if err != nil {
					return fmt.Errorf("moving the team lists of the previous key layout: %w", err)
				}
				if n > 0 {
					log.Info("moved team lists and routings to the key layout of this version", "keys", n)
				}
				// The CRM's {crm} keys before issue 12's layout (once: a
				// schema key records it; one process at a time).
				if _, err := redisstore.NewCRM(rdb, *prefix).MigrateLegacy(ctx, redisstore.MigrateOptions{Wait: 10 * time.Minute, Logger: log}); err != nil {
					return fmt.Errorf("moving the CRM of the previous key layout (see playbook help migrate): %w", err)
				}
			}
			if *redisURL != "" && *secret == "" {
				log.Warn("no --secret (PLAYBOOK_SECRET) given: the visitor token secret is kept in Redis only; if Redis loses its data, processes may refuse each other's tokens for a few seconds and visitors moved between them lose their conversation. Set the same PLAYBOOK_SECRET on every process of a multi-process deployment")
			}
			openHours, err := conversation.ParseHours(*hours)
			if err != nil {
				return usageError("%v", err)
			}
			fields, err := parseCRMFields(*crmFields)
			if err != nil {
				return usageError("%v", err)
			}
			var mailer server.Mailer
			if *smtpURL != "" {
				m, err := server.NewSMTPMailer(*smtpURL)
				if err != nil {
					return usageError("%v", err)
				}
				mailer = m
			}
			blobs, fileLimits, err := files.open(ctx, log, *redisURL != "", *data)
			if err != nil {
				return err
			}
			opts := conversation.Options{
				Files:      blobs,
				FileLimits: fileLimits,
				Playbooks:  *dir,
				Prefix:     *prefix,
				IdleTTL:    *idle,
				Retention:  time.Duration(retention),
				Calls:      conversation.CallPolicy{AllowHosts: splitList(*hosts), AllowPrivate: *private},
				Logger:     log,
				Hours:      openHours,
				Mail:       mailer,
				CRMFields:  fields,
				Metrics:    m,
			}
			cfg := server.Config{
				Secret:          []byte(*secret),
				AdminToken:      *admin,
				AllowedOrigins:  splitList(*origins),
				TokenTTL:        *tokenTTL,
				DefaultPlaybook: *def,
				Logger:          log,
				TrustedProxies:  splitList(*proxies),
				AccessLog:       *accessLog,
				LogIPs:          *logIPs,
				MetricsToken:    mx.mainToken(),
			}
			if err := extras.apply(ctx, log, rdb, engine, &opts, &cfg); err != nil {
				return err
			}
			app, err := conversation.NewApp(engine, opts)
			if err != nil {
				return err
			}
			cfg.App = app
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			if err := mx.listen(ctx, log, m); err != nil {
				return err
			}
			if *redisURL == "" {
				demoAgent(ctx, srv, log)
			}
			return listenAndServe(ctx, *addr, srv, log, *drainDelay, *drainTimeout)
		}
	},
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// openRedis connects to url (a cluster when it lists several nodes).
func openRedis(url string, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if url == "" {
		return nil, nil, errors.New("no Redis URL")
	}
	c, err := dialRedis(url)
	if err != nil {
		return nil, nil, err
	}
	if cc, ok := c.(*redis.ClusterClient); ok {
		log.Info("using Redis Cluster", "nodes", cc.Options().Addrs)
	} else {
		log.Info("using Redis", "addr", c.(*redis.Client).Options().Addr, "db", c.(*redis.Client).Options().DB)
	}
	return c, func() { c.Close() }, nil
}

// dialRedis returns a client of url: a Redis Cluster when it lists several
// nodes (comma-separated) or when it starts with redis+cluster:// (or
// rediss+cluster://, TLS), else one Redis node.
func dialRedis(url string) (redis.UniversalClient, error) {
	nodes := splitList(url)
	cluster := len(nodes) > 1
	for i, n := range nodes {
		for _, scheme := range []string{"redis", "rediss"} {
			if rest, ok := strings.CutPrefix(n, scheme+"+cluster://"); ok {
				nodes[i], cluster = scheme+"://"+rest, true
			}
		}
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("--redis: no address")
	}
	if !cluster {
		opt, err := redis.ParseURL(withScheme(nodes[0]))
		if err != nil {
			return nil, fmt.Errorf("--redis: %w", err)
		}
		return redis.NewClient(opt), nil
	}
	var addrs []string
	var opt *redis.Options
	for _, n := range nodes {
		o, err := redis.ParseURL(withScheme(n))
		if err != nil {
			return nil, fmt.Errorf("--redis %s: %w", n, err)
		}
		opt = o
		addrs = append(addrs, o.Addr)
	}
	return newClusterClient(addrs, opt), nil
}

// newClusterClient is a Redis Cluster client that moves to a promoted
// replica quickly after a master fails. go-redis reloads its slot map on a
// MOVED reply and otherwise only every few seconds, and a dead master
// answers nothing: so every node client reloads the map (at most every
// 200 ms, go-redis's cooldown) as soon as a command to that node fails on
// the connection or the cluster says it is down, while the command is
// retried with a short backoff. Reads and writes go to masters (ReadOnly
// false): a replica may lag behind a turn just written.
func newClusterClient(addrs []string, opt *redis.Options) *redis.ClusterClient {
	h := &rerouteHook{}
	o := &redis.ClusterOptions{
		Addrs:     addrs,
		Username:  opt.Username,
		Password:  opt.Password,
		TLSConfig: opt.TLSConfig,
		ReadOnly:  false,
		// Enough hops for a slot that moved twice (a failover during a
		// resharding).
		MaxRedirects:    8,
		MaxRetries:      6,
		MinRetryBackoff: 50 * time.Millisecond,
		MaxRetryBackoff: time.Second,
		DialTimeout:     2 * time.Second,
		// One dial per try: a dead master refuses at once, and go-redis's
		// five dial retries (each node, the slot map's reload included)
		// kept the client on it for seconds.
		DialerRetries:      1,
		DialerRetryTimeout: 50 * time.Millisecond,
		NewClient: func(o *redis.Options) *redis.Client {
			n := redis.NewClient(o)
			n.AddHook(h)
			return n
		},
	}
	c := redis.NewClusterClient(o)
	h.c.Store(c)
	c.AddHook(h)
	return c
}

// rerouteHook reloads a cluster client's slot map when a command fails in
// a way that means the cluster changed (see newClusterClient).
type rerouteHook struct {
	c atomic.Pointer[redis.ClusterClient] // set once built
}

func (h *rerouteHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *rerouteHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		h.check(ctx, err)
		return err
	}
}

func (h *rerouteHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		h.check(ctx, err)
		return err
	}
}

func (h *rerouteHook) check(ctx context.Context, err error) {
	if c := h.c.Load(); c != nil && clusterChanged(err) {
		c.ReloadState(context.WithoutCancel(ctx))
	}
}

// clusterChanged reports whether err says a node is gone or the cluster is
// failing over (rather than a bad command or a missing key).
func clusterChanged(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) || errors.Is(err, context.Canceled) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, net.ErrClosed) {
		return true
	}
	return redis.HasErrorPrefix(err, "CLUSTERDOWN") || redis.HasErrorPrefix(err, "TRYAGAIN") || redis.HasErrorPrefix(err, "READONLY")
}

func withScheme(s string) string {
	if strings.Contains(s, "://") {
		return s
	}
	return "redis://" + s
}

// listenAndServe serves until ctx is cancelled (Ctrl-C, SIGTERM), then
// answers /readyz 503 for drainDelay while it still serves, then drains
// within drainTimeout: the listener closes,
// open requests and visitors' running turns finish, every websocket is
// closed with protocol.CloseRestart (clients reconnect and resume), and
// background work stops. It returns nil after a drain, even one cut short
// by drainTimeout (what was cut short is logged).
func listenAndServe(ctx context.Context, addr string, srv *server.Server, log *slog.Logger, drainDelay, drainTimeout time.Duration) error {
	ln, err := listen(ctx, addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second}
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx)) // runs through the drain
	defer stopRun()
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(runCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- hs.Serve(ln) }()
	// "serving" once live updates are heard (/readyz answers 200 from
	// then on): what waits for the line may count on every live event.
	select {
	case <-srv.Listening():
	case err := <-serveDone:
		return err
	case <-ctx.Done():
	}
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/", "widget", "http://"+ln.Addr().String()+"/widget.js")
	select {
	case err := <-serveDone:
		return err
	case <-ctx.Done():
	}
	srv.App().Drain() // /readyz: 503
	if drainDelay > 0 {
		log.Info("not ready: /readyz answers 503; serving on until the drain", "drain_delay", drainDelay)
		time.Sleep(drainDelay)
	}
	start := time.Now()
	log.Info("draining: not ready, no new connections; running turns finish, then sockets close with a reconnect hint", "timeout", drainTimeout)
	drainCtx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- hs.Shutdown(drainCtx) }()
	if err := srv.Drain(drainCtx); err != nil {
		log.Warn("drain cut short", "err", err)
	}
	sockets := time.Since(start)
	if err := <-shut; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("drain cut short: open requests closed", "err", err)
		hs.Close()
	}
	requests := time.Since(start)
	stopRun()
	<-runDone
	log.Info("drained", "took", time.Since(start).Round(time.Millisecond),
		"sockets", sockets.Round(time.Millisecond), "requests", requests.Round(time.Millisecond))
	return nil
}

// listenerKey is the context key of a listener serve accepts on instead
// of --addr: playbook bench --in-process runs serve's own code, in its
// process, on in-memory connections (bench.MemListener).
type listenerKey struct{}

func listen(ctx context.Context, addr string) (net.Listener, error) {
	if ln, ok := ctx.Value(listenerKey{}).(net.Listener); ok {
		return ln, nil
	}
	lc := listenConfig()
	return lc.Listen(ctx, "tcp", addr)
}

// demoAgent creates a sign-in for the inbox when the store is in memory, so
// a first run shows the whole product.
func demoAgent(ctx context.Context, srv *server.Server, log *slog.Logger) {
	const email, password = "demo@example.com", "playbook-demo"
	_, err := srv.App().Inbox().AddAgent(ctx, handoff.NewAgent{Email: email, Name: "Demo Agent", Teams: []string{"sales", "support"}, Role: handoff.RoleAdmin, Password: password})
	if err != nil && !errors.Is(err, handoff.ErrExists) { // the embedded store keeps it from the last start
		log.Warn("creating the demo agent", "err", err)
		return
	}
	log.Info("demo inbox sign-in (without --redis only): open /inbox", "email", email, "password", password)
}

// parseCRMFields reads --crm-fields: "KIND=field,field; KIND=...".
func parseCRMFields(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ";") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		kind, list, ok := strings.Cut(part, "=")
		kind = strings.TrimSpace(kind)
		if !ok || server.DefaultCRMFields[kind] == nil {
			return nil, fmt.Errorf("--crm-fields: %q is not KIND=field,field with KIND person, organization, lead or deal", strings.TrimSpace(part))
		}
		out[kind] = splitList(list)
	}
	return out, nil
}

// days is a duration flag that also takes whole days: "90d".
type days time.Duration

func (d *days) String() string {
	if t := time.Duration(*d); t%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(t/(24*time.Hour)), 10) + "d"
	}
	return time.Duration(*d).String()
}

func (d *days) Set(s string) error {
	var t time.Duration
	if n, ok := strings.CutSuffix(strings.TrimSpace(s), "d"); ok {
		v, err := strconv.ParseUint(n, 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a number of days such as 90d", s)
		}
		t = time.Duration(v) * 24 * time.Hour
	} else {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is neither days (90d) nor a duration (2160h)", s)
		}
		t = v
	}
	if t < time.Hour {
		return fmt.Errorf("%q is less than an hour", s)
	}
	*d = days(t)
	return nil
}
