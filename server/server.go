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
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// Config configures a Server. Zero values take the defaults in the field
// comments.
type Config struct {
	// Playbooks is the directory of playbooks to serve; required.
	Playbooks string
	// Prefix starts every Redis key; default "pb:".
	Prefix string
	// Engine is where conversations (sessions, transcripts, pending
	// marks, timers, playbook versions), the live bus and the token
	// secret are kept; required: store/redis.NewEngine (one node or a
	// Redis Cluster, any number of processes) or store/embedded.NewEngine
	// (one process, a data directory). The server itself imports neither.
	Engine store.Engine
	// Inbox is where the inbox (queues, agents, presence, canned
	// responses) is kept; default: the Engine's.
	Inbox store.InboxEngine
	// Ready answers whether the store can serve now, for GET /readyz
	// (each call bounded to 2 s); default: the Engine's Ping (on Redis:
	// PING; on a cluster every master up and every slot covered).
	Ready func(ctx context.Context) error
	// Secret signs visitor tokens; every process of a deployment needs the
	// same one. Empty: one is generated once and shared by every process
	// through Redis; when Redis loses it, a process that still has it
	// writes it back, and the secrets processes made meanwhile are all
	// accepted (see conversation.Tokens).
	Secret []byte
	// AdminToken protects the admin API; empty turns the API off.
	AdminToken string
	// AllowedOrigins are host patterns (such as "example.com" or
	// "*.example.com:8080") whose pages may open the visitor websocket,
	// besides the server's own host. Default: localhost and 127.0.0.1 on
	// any port.
	AllowedOrigins []string
	// IdleTTL is how long an idle conversation is kept; default 24h.
	IdleTTL time.Duration
	// Retention is how long a conversation's inbox record (and the
	// visitor's index of conversations) is kept after its last activity;
	// default handoff.DefaultRetention (90 days). Its session and
	// transcript follow IdleTTL; CRM records are kept.
	Retention time.Duration
	// TokenTTL is how long a visitor token is valid; default 7 days.
	TokenTTL time.Duration
	// DefaultPlaybook starts when a page asks for none and no trigger
	// matches; default: the demo's website-sales if loaded.
	DefaultPlaybook string
	// Calls configures the HTTP calls of call cards.
	Calls CallPolicy
	// Presence says how many agents of a team are online. Nil: the agents
	// signed in to the inbox (package handoff).
	Presence Presence
	// PresenceTimeout is how long an agent stays online after the inbox's
	// last heartbeat; default 30s.
	PresenceTimeout time.Duration
	// Mail sends transcripts by email; nil turns that off (and the widget
	// and inbox do not offer it).
	Mail Mailer
	// MailLimits bound the transcripts visitors can have mailed; zero
	// values take package transcript's defaults (3 per conversation, 30 a
	// minute over all processes).
	MailLimits transcript.Limits
	// ConnectsPerMinute bounds the new visitor websockets a minute from one
	// address (in bursts of a third of it); default 60, negative: no limit
	// (for load tests from one machine).
	ConnectsPerMinute int
	// PasswordCost is the bcrypt cost of agents' new passwords; default
	// bcrypt's (10). Tests set bcrypt.MinCost.
	PasswordCost int
	// TrustedProxies are the reverse proxies (CIDRs such as "10.0.0.0/8",
	// or single addresses) whose X-Forwarded-For header names the client.
	// The client address (for connection and sign-in limits, and logs) is
	// the rightmost address of X-Forwarded-For that is not a trusted
	// proxy, read only when the connection comes from a trusted proxy.
	// Empty: the address of the connection, headers ignored.
	TrustedProxies []string
	// Hours says which teams are open, for open_hours(). Nil: every team
	// is always open.
	Hours OpenHours
	// CRM keeps the CRM records and the webhook outbox; nil: the
	// Engine's.
	CRM store.CRMEngine
	// MailQuota counts visitors' transcript mails; nil: the Engine's.
	MailQuota store.MailQuota
	// Records receives the records create cards make. Nil: the CRM
	// (package crm) in the same Redis. They are also kept in the
	// conversation's transcript.
	Records Records
	// CRMFields lists, per kind (person, organization, lead, deal), the
	// fields the inbox's details panel shows; kinds it leaves out keep
	// DefaultCRMFields.
	CRMFields map[string][]string
	// Webhooks configures the delivery of webhook events (retries,
	// timeouts); zero values take package crm's defaults.
	Webhooks conversation.WebhookOptions
	// Logger receives the server's log; default slog.Default().
	Logger *slog.Logger
	// ReloadEvery is how often the playbooks directory is checked for
	// changes; default 1s.
	ReloadEvery time.Duration
	// RecoverAfter is how long a turn's work outside the transcript
	// (records, queueing a handoff) may stay undone before a sweep in any
	// process does it again (its process died, or Redis was away);
	// default 30s.
	RecoverAfter time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Presence, OpenHours and Records are the conversation service's (package
// conversation).
type (
	Presence  = conversation.Presence
	OpenHours = conversation.OpenHours
	Records   = conversation.Records
)

// Server serves the widget, the visitor websocket and the admin API: the
// transport in front of the conversation service.
type Server struct {
	cfg    Config
	log    *slog.Logger
	svc    *conversation.Service
	engine store.Engine
	store  store.SessionStore
	timers store.Timers
	bus    store.Bus // live entries and signals between processes
	inbox  *handoff.Store
	reg    *conversation.Registry
	tokens *conversation.Tokens
	hub    *hub
	limits *limits
	echo   *echo.Echo
	now    func() time.Time
}

// New builds a Server and loads the playbooks. It returns an error when the
// directory cannot be read or Redis does not answer; playbooks with errors
// are logged and left out.
func New(cfg Config) (*Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("server: no storage engine (Config.Engine)")
	}
	if cfg.Ready == nil {
		cfg.Ready = cfg.Engine.Ping
	}
	if cfg.Playbooks == "" {
		return nil, errors.New("server: no playbooks directory")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 24 * time.Hour
	}
	if cfg.Retention <= 0 {
		cfg.Retention = handoff.DefaultRetention
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 7 * 24 * time.Hour
	}
	if cfg.ReloadEvery <= 0 {
		cfg.ReloadEvery = time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.RecoverAfter <= 0 {
		cfg.RecoverAfter = 30 * time.Second
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "pb:"
	}
	if cfg.AllowedOrigins == nil {
		cfg.AllowedOrigins = []string{"localhost:*", "127.0.0.1:*"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cfg.Engine.Ping(ctx); err != nil {
		return nil, fmt.Errorf("server: the store does not answer: %w", err)
	}
	var s *Server
	sessions := cfg.Engine.Sessions(store.SessionOptions{TTL: cfg.IdleTTL, Now: cfg.Now, Pending: conversation.LeavesWork, PendingCreate: func(ctx context.Context) bool { return s.svc.StartLeavesWork(ctx) }})
	s = &Server{
		cfg:    cfg, // completed below; s.cfg is set again at the end
		log:    cfg.Logger,
		engine: cfg.Engine,
		bus:    cfg.Engine.Bus(),
		store:  sessions,
		timers: cfg.Engine.Timers(),
		now:    cfg.Now,
		limits: newLimits(cfg.ConnectsPerMinute),
	}
	if len(cfg.Secret) == 0 {
		t, err := conversation.NewSharedTokens(ctx, cfg.Engine.Secrets(), cfg.TokenTTL)
		if err != nil {
			return nil, fmt.Errorf("server: visitor token secret: %w", err)
		}
		s.tokens = t
	} else {
		s.tokens = conversation.NewTokens(cfg.Secret, cfg.TokenTTL)
	}
	if cfg.Inbox == nil {
		cfg.Inbox = cfg.Engine.Inbox()
	}
	s.inbox = handoff.NewStore(cfg.Inbox, handoff.Options{Prefix: cfg.Prefix, PresenceTimeout: cfg.PresenceTimeout, Now: cfg.Now, PasswordCost: cfg.PasswordCost,
		Retention: cfg.Retention, Alive: sessions.Alive})
	if cfg.MailLimits.Now == nil {
		cfg.MailLimits.Now = cfg.Now
	}
	if cfg.MailQuota == nil {
		cfg.MailQuota = cfg.Engine.Mail()
	}
	if cfg.CRM == nil {
		cfg.CRM = cfg.Engine.CRM()
	}
	s.reg = conversation.NewRegistry(cfg.Playbooks, cfg.Engine.Programs(cfg.IdleTTL), s.log, cfg.Now)
	svc, err := conversation.New(conversation.Config{
		Store: sessions, Timers: s.timers, Inbox: s.inbox, CRMEngine: cfg.CRM, Registry: s.reg, Publisher: s.bus,
		Calls: cfg.Calls, Presence: cfg.Presence, Hours: cfg.Hours, Records: cfg.Records, CRMFields: cfg.CRMFields,
		Mail: cfg.Mail, MailQuota: cfg.MailQuota, MailLimits: cfg.MailLimits,
		IdleTTL: cfg.IdleTTL, Retention: cfg.Retention, RecoverAfter: cfg.RecoverAfter, Logger: s.log, Now: cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.svc = svc
	if _, err := s.reg.Reload(ctx, true); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if len(s.reg.All()) == 0 {
		s.log.Warn("no playbook loaded", "dir", cfg.Playbooks)
	}
	s.hub = newHub(s.bus, s.log)
	ipOf, err := clientAddress(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.cfg = cfg
	s.echo = s.routes()
	s.echo.IPExtractor = ipOf
	return s, nil
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler { return s.echo }

// Routes lists the route table as "METHOD path" (echo's own list), for
// tests: the access table test fails on an agent route it has no row for.
func (s *Server) Routes() []string {
	var out []string
	for _, r := range s.echo.Router().Routes() {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Store returns the conversation store, for tests and tools.
func (s *Server) Store() store.SessionStore { return s.store }

// Run does the server's background work until ctx is done: the
// conversation service's (live reload of the playbooks, due timers, the
// recovery sweep, webhooks from the CRM's outbox), fan-out of conversation
// entries from other processes, and re-reading the shared visitor token
// secret. It returns when ctx is done and running work finished.
func (s *Server) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.hub.run(ctx) }()
	go func() { defer wg.Done(); s.checkTokens(ctx) }()
	go func() { defer wg.Done(); _ = s.svc.Run(ctx, s.cfg.ReloadEvery, s.svc.Webhooks(s.cfg.Webhooks)) }()
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

// Inbox returns the live-chat store (agents, presence, queues).
func (s *Server) Inbox() *handoff.Store { return s.inbox }

// Service returns the conversation service.
func (s *Server) Service() *conversation.Service { return s.svc }

// Close releases the server's connections to Redis it opened itself.
func (s *Server) Close() error { return nil }

var _ io.Closer = (*Server)(nil)
