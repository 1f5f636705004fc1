package store

import (
	"context"
	"errors"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// ErrNotFound is returned for a conversation that does not exist (or has
// expired).
var ErrNotFound = errors.New("conversation not found")

// ErrConflict is returned by Turn when the session kept changing under it
// (another tab or process) more times than it retries.
var ErrConflict = errors.New("session changed concurrently too many times")

// ErrExists is returned by Create for an id already in use.
var ErrExists = errors.New("conversation already exists")

// ErrStale is returned by Commit when the session's version is not the one
// the caller read: another writer got there first. Turn retries on it.
var ErrStale = errors.New("stale session version")

// ErrNoVersion is returned by Programs.Load for a version that is not
// stored.
var ErrNoVersion = errors.New("playbook version not stored")

// Entry is one item of a conversation's transcript.
type Entry struct {
	// ID is the id the store gave the entry ("1700000000000-0": the
	// milliseconds it was stored at and a sequence number, increasing
	// within a conversation); clients resume after it. Empty until stored.
	ID string `json:"id,omitempty"`
	// From is who it comes from: visitor, bot, agent or system.
	From string `json:"from"`
	// Kind is "message" for text, or an event: handoff, joined, left, end,
	// note, error.
	Kind     string           `json:"kind"`
	Text     string           `json:"text,omitempty"`
	Buttons  []engine.Button  `json:"buttons,omitempty"`
	Input    engine.InputType `json:"input,omitempty"`
	Image    string           `json:"image,omitempty"`
	Links    []engine.LinkOut `json:"links,omitempty"`
	Author   string           `json:"author,omitempty"` // agent id or bot name
	ClientID string           `json:"client_id,omitempty"`
	Card     string           `json:"card,omitempty"`
	Data     map[string]any   `json:"data,omitempty"`
	At       time.Time        `json:"at"`
}

// Result is what a committed (or deduplicated) turn stored.
type Result struct {
	// Duplicate is set when the client message id was seen before: nothing
	// was written and Entries are the ones stored the first time.
	Duplicate bool
	Version   int64
	Entries   []Entry
	// Pending is the turn's mark among the pending marks (see
	// SessionOptions.Pending), for PendingMarks.Done; "" when the turn left
	// nothing to do.
	Pending string
}

// Step is a turn's work on a session: it returns the next session and the
// transcript entries to append. It must be pure (a turn that lost a race
// runs it again) and may change the session it is given, which is a fresh
// copy every time. The session it returns is the store's once the turn is
// stored (its cache may keep it as it is, SessionCache.Keep): the caller
// may read it after the turn but never changes it again.
type Step func(sess *engine.Session) (*engine.Session, []Entry, error)

// SessionOptions are what every engine's sessions take.
type SessionOptions struct {
	// TTL is how long an idle conversation is kept; default 24h. Every turn
	// renews it.
	TTL time.Duration
	// Pending, when set, tells which turns leave work to do after they are
	// stored (records to create, a chat to queue). Such a turn is marked
	// pending in the same atomic write as the turn itself; the caller
	// clears the mark with Done once the work is done, and a process that
	// died before that leaves it for ClaimPending.
	Pending func(entries []Entry) bool
	// PendingFolded, when set, is Pending for the turns whose funnel fold
	// is written with them (TurnFolds.TurnFolded): only those that leave
	// other work are marked. A new conversation is marked by Pending.
	PendingFolded func(entries []Entry) bool
	// PendingCreate, when set and true, marks a new conversation (Create)
	// pending too, whatever its entries. Needs Pending.
	PendingCreate func(ctx context.Context) bool
	// Now is the clock pending marks are stamped with; ClaimPending's
	// before and now are read on it, so give the store the clock of the
	// service that sweeps the marks. Default: the engine's clock.
	Now func() time.Time
}

// DefaultTTL is the default SessionOptions.TTL.
const DefaultTTL = 24 * time.Hour

// Sessions keeps conversations: each session's state and version, its
// transcript, and the client message ids already answered. A turn is
// atomic: version check, new state, transcript entries, client-id dedupe,
// pending mark and the publication of the entries on the conversation's
// Channel happen together or not at all.
type Sessions interface {
	// Load returns a conversation's session and its version.
	Load(ctx context.Context, id string) (*engine.Session, int64, error)
	// Commit writes sess as the version after version (0: create),
	// appends entries and records clientID (when not empty), atomically.
	// A version that is not the stored one gives ErrStale; a clientID seen
	// before gives a Duplicate result with the entries stored the first
	// time, and writes nothing.
	Commit(ctx context.Context, id string, version int64, sess *engine.Session, clientID string, entries []Entry) (Result, error)
	// Turn loads the session, calls step and commits what it returns,
	// retrying from a fresh load when another writer got there first
	// (ErrConflict after too many tries). A duplicate clientID is answered
	// from the transcript.
	Turn(ctx context.Context, id, clientID string, step Step) (Result, error)
	// Create stores a new conversation with its first entries (ErrExists
	// for an id in use).
	Create(ctx context.Context, sess *engine.Session, entries []Entry) (Result, error)
	// Append adds entries to a conversation's transcript without changing
	// its session.
	Append(ctx context.Context, id string, entries []Entry) ([]Entry, error)
	// Alive reports which of the conversations exist.
	Alive(ctx context.Context, ids []string) (map[string]bool, error)
	// Delete removes conversations: sessions, transcripts, client ids.
	Delete(ctx context.Context, ids ...string) error
	// Transcript returns up to count entries after the entry id after (""
	// or "0": from the start); count 0 means all. A kept transcript (see
	// KeepTranscript) is returned after its session expired.
	Transcript(ctx context.Context, id, after string, count int64) ([]Entry, error)
	// KeepTranscript keeps conversation id's transcript when its session
	// expires, with no expiry of its own: the CRM links it from a person's
	// feed (whose records are kept) instead of copying it. The session and
	// the client ids expire as before; later entries are kept too. It
	// costs the same whatever the transcript's length, and does nothing
	// for a conversation already gone.
	KeepTranscript(ctx context.Context, id string) error
	// Channel is the Bus channel on which a committed turn publishes the
	// conversation's new entries (EncodeLive).
	Channel(id string) string
}

// EncodedTranscripts is a Sessions that hands a whole transcript over in
// the form EncodeEntries makes ("ID ENTRY" lines; each entry in a form
// DecodeEntry reads), straight from the bytes it stores, without decoding
// and encoding every entry again (what the CRM's archive of a transcript
// used before the transcript was kept instead). Both engines have it; a
// caller falls back to Transcript and EncodeEntries without it.
type EncodedTranscripts interface {
	// EncodedTranscript returns conversation id's transcript, nil when
	// it has no entries (or the conversation is gone).
	EncodedTranscript(ctx context.Context, id string) ([]byte, error)
}

// Pending is a turn whose work may not be done: its conversation and its
// mark, for Done.
type Pending struct {
	Conversation string
	Mark         string
}

// PendingMarks are the marks of turns whose work after the store (records,
// a chat to queue) may not be done yet. Marks are made with the turn (see
// SessionOptions.Pending).
type PendingMarks interface {
	// Done clears a mark once its work is done; "" is a no-op.
	Done(ctx context.Context, mark string) error
	// DoneMany clears many marks in one write (empty marks are skipped).
	DoneMany(ctx context.Context, marks []string) error
	// Mark puts a mark back (now), after its work failed.
	Mark(ctx context.Context, mark string) error
	// ClaimPending returns up to n marks made (or last claimed) before
	// before, and makes them new (now) so no other process claims them
	// for a while: whoever claims a mark finishes the turn's work and
	// calls Done; if it dies too, the mark comes back later.
	ClaimPending(ctx context.Context, before, now time.Time, n int) ([]Pending, error)
	// PendingCount is how many marks there are.
	PendingCount(ctx context.Context) (int64, error)
}

// Due is a timer that came due.
type Due struct {
	Conversation string
	ID           string
	At           time.Time
}

// Timers is a durable timer queue any number of processes poll; each
// timer fires in exactly one of them.
type Timers interface {
	// Set schedules timer id of conversation conv at at; setting the same
	// id again moves it.
	Set(ctx context.Context, conv, id string, at time.Time) error
	// Cancel removes a timer; cancelling one that fired is fine.
	Cancel(ctx context.Context, conv, id string) error
	// Claim removes and returns up to limit timers due at or before now.
	Claim(ctx context.Context, now time.Time, limit int) ([]Due, error)
}

// Programs keeps the source of every playbook version sessions run on, by
// content hash, so any process can compile the exact version a
// conversation started on.
type Programs interface {
	// Save stores the files of version hash (file name to source).
	Save(ctx context.Context, hash string, files map[string][]byte) error
	// Keep renews version hash for another TTL while sessions use it.
	Keep(ctx context.Context, hash string) error
	// Load returns the files of version hash, or ErrNoVersion.
	Load(ctx context.Context, hash string) (map[string][]byte, error)
}
