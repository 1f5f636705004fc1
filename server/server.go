package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
)

// Config configures a Server. Zero values take the defaults in the field
// comments.
type Config struct {
	// App is the application the server is the transport of (the
	// conversation service and the stores it runs on); required:
	// conversation.NewApp on a storage engine.
	App *conversation.App
	// Ready answers whether this process can serve now, for GET /readyz
	// (each call bounded to 2 s); default: conversation.App.Ready (not
	// draining, and the engine answers: on Redis PING; on a cluster every
	// master up and still a master, every slot covered). While the App
	// drains /readyz answers 503 whatever Ready says.
	Ready func(ctx context.Context) error
	// Secret signs visitor tokens; every process of a deployment needs the
	// same one. Empty: one is generated once and shared by every process
	// through the store; when the store loses it, a process that still has
	// it writes it back, and the secrets processes made meanwhile are all
	// accepted (see conversation.Tokens).
	Secret []byte
	// AdminToken protects the admin API; empty turns the API off.
	AdminToken string
	// AllowedOrigins are host patterns (such as "example.com" or
	// "*.example.com:8080") whose pages may open the visitor websocket,
	// besides the server's own host. Default: localhost and 127.0.0.1 on
	// any port.
	AllowedOrigins []string
	// TokenTTL is how long a visitor token is valid; default 7 days.
	TokenTTL time.Duration
	// DefaultPlaybook starts when a page asks for none and no trigger
	// matches; default: the demo's website-sales if loaded.
	DefaultPlaybook string
	// ConnectsPerMinute bounds the new visitor websockets a minute from one
	// address (in bursts of a third of it); default 60, negative: no limit
	// (for load tests from one machine).
	ConnectsPerMinute int
	// TrustedProxies are the reverse proxies (CIDRs such as "10.0.0.0/8",
	// or single addresses) whose X-Forwarded-For header names the client.
	// The client address (for connection and sign-in limits, and logs) is
	// the rightmost address of X-Forwarded-For that is not a trusted
	// proxy, read only when the connection comes from a trusted proxy.
	// Empty: the address of the connection, headers ignored.
	TrustedProxies []string
	// MetricsToken, when set, serves the App's metrics (if it has any) at
	// GET /metrics to requests with "Authorization: Bearer TOKEN". Empty:
	// no /metrics on this handler (playbook serve's --metrics-addr serves
	// them on a listener of their own).
	MetricsToken string
	// Logger receives the server's log; default slog.Default().
	Logger *slog.Logger
	// AccessLog logs one line per HTTP request (see accessLog: request
	// id, method, route pattern, status, duration, bytes; no query
	// string); default off (serve turns it on).
	AccessLog bool
	// LogIPs adds the client address to the access log; default off (an
	// address is personal data).
	LogIPs bool
}

// Presence, OpenHours and Records are the conversation service's (package
// conversation).
type (
	Presence  = conversation.Presence
	OpenHours = conversation.OpenHours
	Records   = conversation.Records
)

// Server serves the widget, the visitor websocket, the inbox and the admin
// API: the transport in front of the conversation service.
type Server struct {
	cfg    Config
	log    *slog.Logger
	app    *conversation.App
	svc    *conversation.Service
	reg    *conversation.Registry
	tokens *conversation.Tokens
	hub    *conversation.Hub
	// widgets is the visitor side of the service, one Widget per visitor
	// websocket.
	widgets *conversation.Widgets
	limits  *limits
	conns   openConns // the open websockets, for Drain
	echo    *echo.Echo
	now     func() time.Time
}

// New builds a Server on cfg.App. It returns an error when the store does
// not answer or the configuration is wrong.
func New(cfg Config) (*Server, error) {
	if cfg.App == nil {
		return nil, errors.New("server: no application (Config.App: conversation.NewApp)")
	}
	if cfg.Ready == nil {
		cfg.Ready = cfg.App.Ready
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 7 * 24 * time.Hour
	}
	if cfg.AllowedOrigins == nil {
		cfg.AllowedOrigins = []string{"localhost:*", "127.0.0.1:*"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	app := cfg.App
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		app:    app,
		svc:    app.Service(),
		reg:    app.Registry(),
		now:    app.Now,
		limits: newLimits(cfg.ConnectsPerMinute),
	}
	if len(cfg.Secret) == 0 {
		t, err := conversation.NewSharedTokens(ctx, app.Secrets(), cfg.TokenTTL)
		if err != nil {
			return nil, fmt.Errorf("server: visitor token secret: %w", err)
		}
		s.tokens = t
	} else {
		s.tokens = conversation.NewTokens(cfg.Secret, cfg.TokenTTL)
	}
	// Every conversation's channel and the inbox channel through one
	// pattern subscription (on Redis): no SUBSCRIBE and UNSUBSCRIBE per
	// conversation or agent, and none for the inbox's events.
	s.hub = conversation.NewPatternHub(app.Bus(), s.svc.LivePattern(), s.log)
	if w := s.svc.TeamsWatcher(); w != nil {
		// Opening hours an admin changes on any process reach
		// open_hours() here.
		if err := s.hub.Attach(ctx, s.svc.InboxChannel(), w); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	var err error
	if s.widgets, err = s.svc.Widgets(conversation.WidgetsConfig{Hub: s.hub, Tokens: s.tokens}); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ipOf, err := clientAddress(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.echo = s.routes()
	s.echo.IPExtractor = ipOf
	return s, nil
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveHTTP serves a request through the route table. A visitor's
// websocket upgrade, one per conversation, goes through it on a worker
// (warm.Pool) whose stack is already grown: on net/http's goroutine, new
// for each connection, the upgrade and its access log line grew the stack
// on every visitor's connection, a copy of the frames each time
// (runtime.newstack, docs/benchmarks.md). A panic that escapes the route
// table goes on in net/http's goroutine, as it did.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != visitorPath {
		s.echo.ServeHTTP(w, r)
		return
	}
	var panicked any
	workers.Run(func() {
		defer func() { panicked = recover() }()
		s.echo.ServeHTTP(w, r)
	})
	if panicked != nil {
		panic(panicked)
	}
}

// Routes lists the route table as "METHOD path" (echo's own list), for
// tests: the access table test fails on an agent route it has no row for.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Router().Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Run does the server's background work until ctx is done: the App's
// (live reload of the playbooks, due timers, the recovery sweep, webhooks
// from the CRM's outbox), fan-out of conversation entries from other
// processes, and re-reading the shared visitor token secret. It returns
// when ctx is done and running work finished.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.hub.Run(ctx) }()
	go func() { defer wg.Done(); s.checkTokens(ctx) }()
	go func() { defer wg.Done(); _ = s.app.Run(ctx) }()
	wg.Wait()
	return nil
}

// checkTokens re-reads the shared visitor token secret as often as the
// service sweeps, so that a secret Redis lost is written back.
func (s *Server) checkTokens(ctx context.Context) {
	tick := time.NewTicker(s.svc.SweepEvery())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := s.tokens.Check(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("re-reading the visitor token secret", "err", err)
		}
	}
}

// Listening is closed once Run listens for live updates (the hub's
// Listening): what is published afterwards reaches every agent's feed and
// visitor's socket. Sockets opened before are caught up once it listens
// (an agent's feed gets a resync frame instead of the events missed).
func (s *Server) Listening() <-chan struct{} { return s.hub.Listening() }

// App returns the application the server serves.
func (s *Server) App() *conversation.App { return s.app }

// Service returns the conversation service.
func (s *Server) Service() *conversation.Service { return s.svc }

// Close releases what the server opened itself (nothing today: the App's
// engine is its builder's to close).
func (s *Server) Close() error { return nil }

var _ io.Closer = (*Server)(nil)
