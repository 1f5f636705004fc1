package conversation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/metrics"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// Options configure an App. Zero values take the defaults in the field
// comments.
type Options struct {
	// Playbooks is the directory of playbooks to serve; required.
	Playbooks string
	// Prefix starts every Redis key of the inbox; default "pb:".
	Prefix string
	// Inbox is where the inbox (queues, agents, presence, canned
	// responses) is kept; default: the engine's.
	Inbox store.InboxEngine
	// CRM keeps the CRM records and the webhook outbox; default: the
	// engine's.
	CRM store.CRMEngine
	// MailQuota counts visitors' transcript mails; default: the engine's.
	MailQuota store.MailQuota
	// Mail sends transcripts by email; nil turns that off (and the widget
	// and inbox do not offer it).
	Mail Mailer
	// MailLimits bound the transcripts visitors can have mailed; zero
	// values take package transcript's defaults (3 per conversation, 30 a
	// minute over all processes).
	MailLimits transcript.Limits
	// IdleTTL is how long an idle conversation is kept; default 24h.
	IdleTTL time.Duration
	// Retention is how long a conversation's inbox record (and the
	// visitor's index of conversations) is kept after its last activity;
	// default handoff.DefaultRetention (90 days). Its session and
	// transcript follow IdleTTL; CRM records are kept.
	Retention time.Duration
	// PresenceTimeout is how long an agent stays online after the inbox's
	// last heartbeat; default 30s.
	PresenceTimeout time.Duration
	// PasswordCost is the bcrypt cost of agents' new passwords; default
	// bcrypt's (10). Tests set bcrypt.MinCost.
	PasswordCost int
	// Calls configures the HTTP calls of call cards.
	Calls CallPolicy
	// Presence says how many agents of a team are online. Nil: the agents
	// signed in to the inbox.
	Presence Presence
	// Hours says which teams are open, for open_hours(). Nil: every team
	// is always open.
	Hours OpenHours
	// Records receives the records create cards make. Nil: the CRM. They
	// are also kept in the conversation's transcript.
	Records Records
	// CRMFields lists, per kind (person, organization, lead, deal), the
	// fields the inbox's details panel shows; kinds it leaves out keep
	// DefaultCRMFields.
	CRMFields map[string][]string
	// Webhooks configures the delivery of webhook events (retries,
	// timeouts); zero values take package crm's defaults.
	Webhooks WebhookOptions
	// ReloadEvery is how often the playbooks directory is checked for
	// changes; default 1s.
	ReloadEvery time.Duration
	// RecoverAfter is how long a turn's work outside the transcript
	// (records, queueing a handoff) may stay undone before a sweep in any
	// process does it again; default 30s.
	RecoverAfter time.Duration
	// PurgeEvery is how often one process of the fleet (the one that
	// takes the engine's lease) takes the chats whose session expired out
	// of the queues; a process asks first PurgeEvery after it started.
	// Default a minute.
	PurgeEvery time.Duration
	// Files keeps the attachments (the embedded engine's data directory,
	// or S3-compatible object storage); nil turns attachments off.
	Files store.Blobs
	// FileLimits bound the attachments (size, types, how long a visitor's
	// download URL lasts); zero values take the defaults.
	FileLimits FileLimits
	// Metrics receives the application's metrics (turns, conversations,
	// handoffs, queue waits, missed chats, timers, records, webhooks,
	// pending marks); nil: none. One App per Metrics.
	Metrics *metrics.Metrics
	// Logger receives the log; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// App is the application on one storage engine: the conversation service
// and the stores and services it runs on (inbox, CRM and its webhooks,
// playbook registry), built once by NewApp and shared by the transport,
// the commands and the tests.
type App struct {
	opts     Options
	engine   store.Engine
	sessions store.SessionStore
	inbox    *handoff.Store
	hooks    *crm.Dispatcher
	reg      *Registry
	svc      *Service
	// draining is set by Drain: the process is shutting down.
	draining atomic.Bool
}

// NewApp builds the application on engine and loads the playbooks. It
// returns an error when the engine does not answer (within 10 s) or the
// directory cannot be read; playbooks with errors are logged and left out.
func NewApp(engine store.Engine, opts Options) (*App, error) {
	if engine == nil {
		return nil, errors.New("conversation: no storage engine")
	}
	if opts.Playbooks == "" {
		return nil, errors.New("conversation: no playbooks directory")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.IdleTTL <= 0 {
		opts.IdleTTL = 24 * time.Hour
	}
	if opts.Retention <= 0 {
		opts.Retention = handoff.DefaultRetention
	}
	if opts.ReloadEvery <= 0 {
		opts.ReloadEvery = time.Second
	}
	if opts.RecoverAfter <= 0 {
		opts.RecoverAfter = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Prefix == "" {
		opts.Prefix = "pb:"
	}
	if opts.Inbox == nil {
		opts.Inbox = engine.Inbox()
	}
	if opts.CRM == nil {
		opts.CRM = engine.CRM()
	}
	if opts.MailQuota == nil {
		opts.MailQuota = engine.Mail()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := engine.Ping(ctx); err != nil {
		return nil, fmt.Errorf("conversation: the store does not answer: %w", err)
	}
	a := &App{opts: opts, engine: engine}
	a.sessions = engine.Sessions(store.SessionOptions{TTL: opts.IdleTTL, Now: opts.Now, Pending: TurnLeavesWork, PendingFolded: LeavesWork,
		PendingCreate: func(ctx context.Context) bool { return a.svc.StartLeavesWork(ctx) }})
	a.inbox = handoff.NewStore(opts.Inbox, handoff.Options{Prefix: opts.Prefix, PresenceTimeout: opts.PresenceTimeout, Now: opts.Now,
		PasswordCost: opts.PasswordCost, Retention: opts.Retention, Alive: a.sessions.Alive})
	a.reg = NewRegistry(opts.Playbooks, engine.Programs(opts.IdleTTL), opts.Logger, opts.Now)
	svc, err := New(Config{
		Store: a.sessions, Timers: engine.Timers(), Inbox: a.inbox, CRMEngine: opts.CRM, Registry: a.reg, Publisher: engine.Bus(),
		Calls: opts.Calls, Presence: opts.Presence, Hours: opts.Hours, Records: opts.Records, CRMFields: opts.CRMFields,
		Mail: opts.Mail, MailQuota: opts.MailQuota, Files: opts.Files, FileLimits: opts.FileLimits, MailLimits: opts.MailLimits, Funnels: engine.Funnels(),
		IdleTTL: opts.IdleTTL, Retention: opts.Retention, RecoverAfter: opts.RecoverAfter, PurgeEvery: opts.PurgeEvery, Leases: engine.Leases(),
		Metrics: opts.Metrics, Logger: opts.Logger, Now: opts.Now,
	})
	if err != nil {
		return nil, err
	}
	a.svc = svc
	if err := opts.Metrics.Pending(a.sessions); err != nil {
		return nil, fmt.Errorf("conversation: metrics: %w", err)
	}
	a.hooks = svc.Webhooks(opts.Webhooks)
	if _, err := a.reg.Reload(ctx, true); err != nil {
		return nil, fmt.Errorf("conversation: %w", err)
	}
	if len(a.reg.All()) == 0 {
		opts.Logger.Warn("no playbook loaded", "dir", opts.Playbooks)
	}
	return a, nil
}

// Run does the application's background work until ctx is done: the
// service's (live reload of the playbooks, due timers, the recovery
// sweep) and the delivery of webhooks from the CRM's outbox. It returns
// when ctx is done and the work it started has finished.
func (a *App) Run(ctx context.Context) error {
	return a.svc.Run(ctx, a.opts.ReloadEvery, a.hooks)
}

// Service returns the conversation service.
func (a *App) Service() *Service { return a.svc }

// Engine returns the storage engine the App runs on.
func (a *App) Engine() store.Engine { return a.engine }

// Sessions returns the conversation store (sessions, transcripts,
// pending marks).
func (a *App) Sessions() store.SessionStore { return a.sessions }

// Bus returns the live bus between processes.
func (a *App) Bus() store.Bus { return a.engine.Bus() }

// Secrets returns the shared visitor token secrets.
func (a *App) Secrets() store.Secrets { return a.engine.Secrets() }

// Ping reports whether the storage engine answers.
func (a *App) Ping(ctx context.Context) error { return a.engine.Ping(ctx) }

// ErrDraining is Ready's answer once Drain was called.
var ErrDraining = errors.New("conversation: this process is draining (shutting down)")

// Ready reports whether this process can serve conversations now: it is
// not draining (ErrDraining) and its storage engine answers (Ping: on
// Redis a PING; on a Redis Cluster every master the client knows answers,
// is still a master (the client's slot map is not stale), and says the
// cluster is up with every slot covered). ctx bounds the check.
func (a *App) Ready(ctx context.Context) error {
	if a.draining.Load() {
		return ErrDraining
	}
	if err := a.engine.Ping(ctx); err != nil {
		return fmt.Errorf("conversation: the store does not answer: %w", err)
	}
	return nil
}

// Drain marks the process as shutting down: from now on Ready answers
// ErrDraining, so load balancers send new visitors to other processes.
// It cannot be undone; the transport stops accepting and closes its
// connections (server.Server.Drain).
func (a *App) Drain() { a.draining.Store(true) }

// Draining reports whether Drain was called.
func (a *App) Draining() bool { return a.draining.Load() }

// Inbox returns the live-chat store (agents, presence, queues).
func (a *App) Inbox() *handoff.Store { return a.inbox }

// CRM returns the CRM store.
func (a *App) CRM() *crm.Store { return a.svc.CRM() }

// Mailer returns what sends transcripts by email; nil: no mail.
func (a *App) Mailer() Mailer { return a.opts.Mail }

// Registry returns the hot-reloaded playbooks.
func (a *App) Registry() *Registry { return a.reg }

// IdleTTL is how long an idle conversation is kept.
func (a *App) IdleTTL() time.Duration { return a.opts.IdleTTL }

// Metrics returns the App's metrics; nil when it has none (the methods of
// a nil *metrics.Metrics do nothing).
func (a *App) Metrics() *metrics.Metrics { return a.opts.Metrics }

// Now is the App's clock.
func (a *App) Now() time.Time { return a.opts.Now() }
