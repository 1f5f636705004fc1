package handoff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/store"
)

// Errors of the package, for the server to map to status codes. Those the
// storage engines return are the store package's.
var (
	ErrNotFound    = store.ErrInboxNotFound
	ErrTaken       = store.ErrTaken
	ErrClosed      = store.ErrClosed
	ErrForbidden   = errors.New("not allowed")
	ErrBadPassword = errors.New("wrong email or password")
	ErrDisabled    = errors.New("this account is disabled; ask an admin")
	ErrTooMany     = errors.New("too many attempts; wait a minute")
	ErrExists      = store.ErrInboxExists
	ErrInvalid     = errors.New("invalid")
	ErrUnavailable = errors.New("cannot assign the chat")
	ErrNotResolved = store.ErrNotResolved
	ErrRated       = store.ErrRated
)

// Store keeps agents, presence and the inbox in a storage engine
// (store.InboxEngine: the embedded one, or Redis shared by every server
// process). It holds the inbox's rules (who may take what, validation,
// passwords, routing); the engine holds the data and makes each step
// atomic. It is safe for concurrent use.
type Store struct {
	st        store.InboxEngine
	p         string
	now       func() time.Time
	online    time.Duration
	cost      int // bcrypt cost of new passwords
	retention time.Duration
	// amendRating is Options.AmendRating.
	amendRating time.Duration
	alive       func(ctx context.Context, ids []string) (map[string]bool, error)

	dummyOnce sync.Once
	dummy     []byte // a hash of cost cost, compared for unknown emails
}

// Options configure a Store.
type Options struct {
	// Prefix starts the inbox's pub/sub channel (InboxChannel); default
	// "pb:" (the conversation store's).
	Prefix string
	// PresenceTimeout is how long an agent stays online after the last
	// heartbeat; default 30s.
	PresenceTimeout time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// PasswordCost is the bcrypt cost of new passwords; default (and for
	// values out of bcrypt's range) bcrypt.DefaultCost. Tests use
	// bcrypt.MinCost so that sign-ins stay fast on a loaded machine.
	PasswordCost int
	// Retention is how long a conversation's inbox record and the
	// visitor's index of conversations are kept after the conversation's
	// last activity (its start, a handoff, a message);
	// default DefaultRetention.
	Retention time.Duration
	// Alive reports which of the conversations still exist in the
	// conversation store (their session has not expired). A chat that no
	// longer does leaves the team queues and agents' lists (when listed,
	// taken, or swept: PurgeGone). Nil: every conversation is alive.
	Alive func(ctx context.Context, ids []string) (map[string]bool, error)
	// AmendRating is how long after the visitor's first rating of a
	// conversation (sent on the first star click) the rating may still be
	// replaced (its comment typed after the click, another star); later
	// ratings are refused (ErrRated). Default DefaultAmendRating.
	AmendRating time.Duration
}

// DefaultAmendRating is the default Options.AmendRating: 30 minutes.
const DefaultAmendRating = 30 * time.Minute

// DefaultRetention is the default Options.Retention: 90 days.
const DefaultRetention = 90 * 24 * time.Hour

// NewStore returns a Store on the storage engine e (store/redis.NewInbox
// or the embedded engine's inbox).
func NewStore(e store.InboxEngine, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "pb:"
	}
	if o.PresenceTimeout <= 0 {
		o.PresenceTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PasswordCost < bcrypt.MinCost || o.PasswordCost > bcrypt.MaxCost {
		o.PasswordCost = bcrypt.DefaultCost
	}
	if o.Retention <= 0 {
		o.Retention = DefaultRetention
	}
	if o.AmendRating <= 0 {
		o.AmendRating = DefaultAmendRating
	}
	return &Store{st: e, p: o.Prefix, now: o.Now, online: o.PresenceTimeout, cost: o.PasswordCost, retention: o.Retention, alive: o.Alive, amendRating: o.AmendRating}
}

// Engine returns the storage engine the Store is on.
func (s *Store) Engine() store.InboxEngine { return s.st }

// InboxChannel is the pub/sub channel that carries inbox events (conversation
// changes and notifications) to every server process.
func (s *Store) InboxChannel() string { return s.p + "inbox" }

var idEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return idEnc.EncodeToString(b)
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}
