package conversation

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/bounded"
	"github.com/playbook-dev/playbook/internal/metrics"
	"github.com/playbook-dev/playbook/internal/warm"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// Presence reports how many agents of each team are online for a
// conversation. Most implementations ignore sess; it lets presence depend
// on the visitor (regional teams, or the bench's simulated world).
type Presence interface {
	Online(ctx context.Context, sess *engine.Session, teams []string) (map[string]int, error)
}

// OpenHours reports which teams are within their opening hours.
type OpenHours interface {
	Open(ctx context.Context, teams []string, now time.Time) (map[string]bool, error)
}

// Records creates CRM records. Create must be idempotent on rec.Key.
type Records interface {
	Create(ctx context.Context, conversation string, rec engine.Record) error
}

// Publisher sends a message to every process listening on a channel
// (store.Bus is one).
type Publisher interface {
	Publish(ctx context.Context, channel, payload string) error
}

// Config is what a Service runs on. Store, Inbox, CRM (or CRMEngine),
// Registry and Publisher are required; zero values of the others take the defaults in
// the field comments.
type Config struct {
	// Store holds sessions, transcripts and pending marks.
	Store store.SessionStore
	// Timers is the timer queue (the engine's Timers()).
	Timers store.Timers
	// Inbox holds the live-chat side: queues, claims, agents, presence.
	Inbox *handoff.Store
	// CRM receives the records (unless Records says otherwise), the chats
	// in people's feeds and the webhook events. Nil: one on CRMEngine.
	CRM *crm.Store
	// CRMEngine keeps the CRM's records and webhook outbox, when CRM is
	// nil: the service opens the CRM on it, with the inbox's agents.
	CRMEngine store.CRMEngine
	// Registry is the hot-reloaded playbooks.
	Registry *Registry
	// Publisher carries inbox events to every process.
	Publisher Publisher
	// Calls configures the HTTP calls of call cards.
	Calls CallPolicy
	// Presence says how many agents of a team are online. Nil: the agents
	// signed in to the inbox.
	Presence Presence
	// Hours says which teams are open, for open_hours(). Nil: every team
	// is always open.
	Hours OpenHours
	// Records receives the records create cards make. Nil: the CRM.
	Records Records
	// CRMFields lists, per kind (person, organization, lead, deal), the
	// fields the inbox's details panel shows; kinds it leaves out keep
	// DefaultCRMFields.
	CRMFields map[string][]string
	// Mail sends transcripts by email; nil turns that off.
	Mail Mailer
	// MailQuota counts visitors' transcript mails over all processes;
	// nil turns visitors' mails off.
	MailQuota store.MailQuota
	// Funnels keeps the funnel rollup every turn folds its facts into
	// (see funnel.go); nil turns the funnel off.
	Funnels store.Funnels
	// MailLimits bound the transcripts visitors can have mailed; zero
	// values take package transcript's defaults (Now: the service's clock).
	MailLimits transcript.Limits
	// IdleTTL is how long an idle conversation is kept; default 24h.
	IdleTTL time.Duration
	// Retention is how long a conversation's inbox record is kept after
	// its last activity; default handoff.DefaultRetention.
	Retention time.Duration
	// RecoverAfter is how long a turn's work outside the transcript may
	// stay undone before a sweep in any process does it again; default 30s.
	RecoverAfter time.Duration
	// PurgeEvery is how often the fleet takes the chats whose session
	// expired out of the queues (handoff.Store.PurgeGone); default a
	// minute. A process asks first PurgeEvery after Run started, not at
	// its first sweep.
	PurgeEvery time.Duration
	// Leases lets one process of the fleet purge the queues an interval,
	// and sweep the files an hour (the engine's Leases()): the one that
	// takes the lease. Nil: this process does both every interval,
	// whatever the others do.
	Leases store.Leases
	// Files keeps the attachments; nil turns them off.
	Files store.Blobs
	// FileLimits bound the attachments; zero values take the defaults.
	FileLimits FileLimits
	// Metrics receives the service's metrics; nil: none.
	Metrics *metrics.Metrics
	// Logger receives the service's log; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Service runs conversations: see the package comment.
type Service struct {
	cfg    Config
	log    *slog.Logger
	store  store.SessionStore
	timers store.Timers
	inbox  *handoff.Store
	// teamHours are the opening hours admins set (nil without an inbox).
	teamHours *teamHours
	// openTeams are the maps of open teams allOpen shares, by playbook
	// version.
	openTeams *bounded.Map[*engine.Program, map[string]bool]
	crm       *crm.Store
	reg       *Registry
	calls     *Caller
	now       func() time.Time
	m         *metrics.Metrics // nil: none
	folds     *foldBatcher     // the after-turn folds and mark clears
	// prevMemo: the earlier conversations of the chats this process
	// started, read with a handoff's queue (see previousMemo).
	prevMemo *previousMemo
	// finishing counts the goroutines that wait for a fold to finish a
	// turn (see Settle).
	finishing atomic.Int64

	wg       sync.WaitGroup // background work (calls, CRM events) to wait for on shutdown
	bgMu     sync.Mutex     // guards draining, so wg never grows while Run waits on it
	draining bool           // Run is waiting for background work: run new work inline
	// runCtx holds Run's context, cancelled when Run returns; background
	// work derives from it (see background). Atomic: Run may start while
	// requests are already served.
	runCtx atomic.Pointer[context.Context]
}

// New returns a Service on cfg. It checks cfg and reads nothing.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("conversation: no store")
	case cfg.Inbox == nil:
		return nil, errors.New("conversation: no inbox")
	case cfg.CRM == nil && cfg.CRMEngine == nil:
		return nil, errors.New("conversation: no CRM")
	case cfg.Registry == nil:
		return nil, errors.New("conversation: no playbook registry")
	case cfg.Publisher == nil:
		return nil, errors.New("conversation: no publisher")
	}
	cfg.FileLimits = cfg.FileLimits.withDefaults()
	if cfg.Timers == nil {
		return nil, errors.New("conversation: no timers")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.IdleTTL <= 0 {
		cfg.IdleTTL = 24 * time.Hour
	}
	if cfg.Retention <= 0 {
		cfg.Retention = handoff.DefaultRetention
	}
	if cfg.RecoverAfter <= 0 {
		cfg.RecoverAfter = 30 * time.Second
	}
	if cfg.PurgeEvery <= 0 {
		cfg.PurgeEvery = time.Minute
	}
	s := &Service{log: cfg.Logger, store: cfg.Store, timers: cfg.Timers, inbox: cfg.Inbox, crm: cfg.CRM,
		reg: cfg.Registry, calls: NewCaller(cfg.Calls), now: cfg.Now, m: cfg.Metrics, prevMemo: newPreviousMemo(previousMemoSize),
		openTeams: bounded.New[*engine.Program, map[string]bool](openTeamsSize)}
	if cfg.Presence == nil {
		cfg.Presence = inboxPresence{cfg.Inbox}
	}
	if cfg.Hours == nil {
		cfg.Hours = Hours{}
	}
	if cfg.Inbox != nil {
		s.teamHours = &teamHours{inbox: cfg.Inbox, now: cfg.Now}
	}
	if cfg.Records == nil {
		cfg.Records = crmRecords{s}
	}
	if cfg.CRM == nil {
		cfg.CRM = s.openCRM(cfg.CRMEngine, cfg.Publisher)
		s.crm = cfg.CRM
	}
	s.cfg = cfg
	s.folds = newFoldBatcher(s)
	return s, nil
}

// Registry returns the playbook registry.
func (s *Service) Registry() *Registry { return s.reg }

// Agents adapts the inbox's agents to the CRM (crm.Options.Agents).
func Agents(inbox *handoff.Store) crm.Directory { return agentDirectory{inbox} }

// Run does the service's background work until ctx is done: live reload
// of the playbooks every reloadEvery, firing due timers, the recovery
// sweep, delivering webhooks from the CRM's outbox (hooks, nil for none).
// It returns when ctx is done and the work it started has finished.
func (s *Service) Run(ctx context.Context, reloadEvery time.Duration, hooks *crm.Dispatcher) error {
	s.runCtx.Store(&ctx)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); s.reg.Watch(ctx, reloadEvery) }()
	go func() { defer wg.Done(); s.timerLoop(ctx) }()
	go func() { defer wg.Done(); s.fileLoop(ctx) }()
	if hooks != nil {
		wg.Add(1)
		go func() { defer wg.Done(); hooks.Run(ctx) }()
	}
	wg.Wait()
	s.bgMu.Lock()
	s.draining = true
	s.bgMu.Unlock()
	s.wg.Wait()
	return nil
}

// background is the context of background work: Run's, or
// context.Background before Run.
func (s *Service) background() context.Context {
	if c := s.runCtx.Load(); c != nil {
		return *c
	}
	return context.Background()
}

// Go runs f in a goroutine of its own, which Run waits for before it returns.
// Once Run is draining, f runs in the caller's goroutine instead:
// connections outlive their handlers, and a WaitGroup must not grow while
// Wait waits (the race detector caught that under load).
func (s *Service) Go(f func()) {
	s.bgMu.Lock()
	if s.draining {
		s.bgMu.Unlock()
		f()
		return
	}
	s.wg.Add(1)
	s.bgMu.Unlock()
	background.Go(func() {
		defer s.wg.Done()
		f()
	})
}

// background runs Service.Go's work on goroutines that keep their grown
// stacks from one piece of work to the next (a new goroutine grew its
// stack again every time; see package warm).
var background = warm.New(warm.Idle)

// SweepEvery is how often the recovery sweep runs: often enough that a
// mark older than RecoverAfter waits at most half as long again.
func (s *Service) SweepEvery() time.Duration { return min(5*time.Second, s.cfg.RecoverAfter/2) }

// timerLoop fires due timers. Every process polls; the store hands each
// timer to exactly one of them. Every SweepEvery it also finishes the
// work of turns whose process died before doing it (RecoverPending), and
// from PurgeEvery after its start on it asks at each sweep to purge
// expired chats from the queues (purgeGone: one process a PurgeEvery).
func (s *Service) timerLoop(ctx context.Context) {
	// The loop is paced by its ticker (real time, also under a test's
	// clock, which may stand still): the sweep runs every sweepEvery
	// ticks; the purge is asked for from the purgeEvery-th tick on, every
	// askEvery ticks.
	const every = 200 * time.Millisecond
	tick := time.NewTicker(every)
	defer tick.Stop()
	sweepEvery := max(1, int(s.SweepEvery()/every))
	purgeEvery := max(1, int(s.cfg.PurgeEvery/every))
	askEvery := min(sweepEvery, purgeEvery)
	if s.cfg.Leases == nil {
		askEvery = purgeEvery // no lease: this process purges every interval
	}
	for ticks := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if ticks++; ticks >= purgeEvery && (ticks-purgeEvery)%askEvery == 0 {
			s.purgeGone(ctx, max(s.cfg.PurgeEvery-every/2, every/2))
		}
		if ticks%sweepEvery == 0 {
			s.RecoverPending(ctx)
		}
		s.FireTimers(ctx)
	}
}

// purgeLease is the name of the lease of the purge (store.Leases).
const purgeLease = "purge-gone"

// purgeGone takes the chats whose session expired out of the queues
// (handoff.Store.PurgeGone) when this process takes the fleet's purge
// lease for hold, or has no lease to take. The lease is held a little
// less than PurgeEvery, so that its holder's own ask an interval later
// finds it free; a process that dies holding it stops nobody's purge
// longer than that.
func (s *Service) purgeGone(ctx context.Context, hold time.Duration) {
	if !s.takeLease(ctx, purgeLease, hold, "purge expired chats from the queues") {
		return
	}
	if n, err := s.inbox.PurgeGone(ctx, 1000); err != nil && ctx.Err() == nil {
		s.log.Warn("purging expired chats from the queues", "err", err)
	} else if n > 0 {
		s.log.Info("purged expired chats from the queues", "chats", n)
	}
}

// takeLease reports whether this process does the fleet's work that the
// lease name guards for hold: it took the lease, or it has no leases (it
// does the work itself). A store that cannot be asked is logged (what,
// the work) and the work skipped: another process, or this one's next
// ask, does it.
func (s *Service) takeLease(ctx context.Context, name string, hold time.Duration, what string) bool {
	if s.cfg.Leases == nil {
		return true
	}
	ok, err := s.cfg.Leases.Take(ctx, name, hold)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("taking the lease to "+what, "err", err)
	}
	return ok
}

// FireTimers runs the turns of the timers due now (at most 100), each
// claimed by exactly one process.
func (s *Service) FireTimers(ctx context.Context) {
	due, err := s.timers.Claim(ctx, s.now(), 100)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("claiming timers", "err", err)
		}
		return
	}
	now := s.now()
	for _, d := range due {
		if d.ID == SnoozeTimer {
			s.m.TimerDue("snooze", now.Sub(d.At))
			s.Unsnooze(ctx, d.Conversation)
			continue
		}
		s.m.TimerDue("playbook", now.Sub(d.At))
		ev := engine.Event{Kind: engine.EventTimer, Timer: d.ID}
		if _, _, err := s.Turn(ctx, d.Conversation, "", ev, nil); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Error("timer turn", "conversation", d.Conversation, "timer", d.ID, "err", err)
		}
	}
}

// SnoozeTimer is the id of a conversation's snooze timer.
const SnoozeTimer = "snooze"

// Unsnooze reopens a conversation whose snooze time came.
func (s *Service) Unsnooze(ctx context.Context, conv string) {
	c, changed, err := s.inbox.Unsnooze(ctx, conv)
	if err != nil || !changed {
		return
	}
	s.PublishConversation(ctx, c)
	s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "reopened", To: c.Assignee, Conversation: c, Title: "Chat with " + visitorWho(c) + " is back", Text: "A snoozed chat is back"})
}

// inboxPresence counts the agents signed in to the inbox.
type inboxPresence struct{ st *handoff.Store }

func (p inboxPresence) Online(ctx context.Context, _ *engine.Session, teams []string) (map[string]int, error) {
	return p.st.OnlineCount(ctx, teams)
}

// truncate cuts s to n characters, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Settle waits until the after-turn writes queued so far (funnel folds,
// pending-mark clears, and the turns waiting on them) are written, or ctx
// ends. Turns do not wait for these writes; tests, the sweep and tools
// that read the funnel right after conversations do.
func (s *Service) Settle(ctx context.Context) error {
	for s.finishing.Load() > 0 || !s.folds.idle() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// goFinish runs f, which waits for a queued fold, in the background,
// counted for Settle.
func (s *Service) goFinish(f func()) {
	s.finishing.Add(1)
	s.Go(func() {
		defer s.finishing.Add(-1)
		f()
	})
}
