package store

import (
	"context"
	"strconv"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// FunnelKey is one row group of the funnel rollup: the conversations of one
// playbook version (and A/B variant) that started on one UTC day.
type FunnelKey struct {
	Day      string `json:"day"` // YYYY-MM-DD, UTC, the day the conversation started
	Playbook string `json:"playbook"`
	Version  string `json:"version"` // the playbook version's hash
	// Variant is the A/B variant the conversation ran ("" for none).
	Variant string `json:"variant,omitempty"`
}

// FunnelFact is one thing a conversation did, counted at most once per
// conversation however often it is folded.
type FunnelFact struct {
	// Name names the fact within its conversation ("reached|ask_email");
	// a name folded again for the same conversation counts nothing.
	Name string
	// Counter is the rollup counter the fact adds 1 to, the first time.
	Counter string
	// At is when it happened; it is kept under Name, for a later fact's
	// Since.
	At time.Time
	// Since, when set, names an earlier fact of the conversation: the time
	// from it to At is counted too, the first time, in the counter
	// Timing + "|" + FunnelBucket(At - its At). A fact whose Since is not
	// known (yet) counts no time.
	Since  string
	Timing string
}

// FunnelBuckets are the upper bounds (inclusive) of the time buckets of
// FunnelFact.Since, in milliseconds; a longer time goes in the bucket
// "inf".
var FunnelBuckets = []int64{500, 1000, 2000, 3000, 5000, 7500, 10000, 15000, 20000, 30000, 45000,
	60000, 90000, 120000, 180000, 300000, 600000, 1800000, 3600000}

// FunnelBucket is the name of the time bucket of ms ("500" ... "inf").
func FunnelBucket(ms int64) string {
	for _, b := range FunnelBuckets {
		if ms <= b {
			return strconv.FormatInt(b, 10)
		}
	}
	return "inf"
}

// FunnelFold is one fold of FoldMany: the facts of conversation Conv
// under Key, and Done, the pending mark the fold clears ("" for none).
type FunnelFold struct {
	Conv  string
	Key   FunnelKey
	Facts []FunnelFact
	Done  string
	// Counted says the caller decided which facts are new from the
	// session the turn replaces (engine.Session.Funnel): each of Facts
	// adds one to its Counter, a time included (its bucket named in its
	// Counter); no Name, At nor Since is read, nor the rollup's record of
	// what the conversation folded. Only for the folds TurnFolds writes
	// with the turn, which the store applies only at the version the
	// caller read.
	Counted bool
}

// FunnelRow is one counter of one row group.
type FunnelRow struct {
	FunnelKey
	Counter string `json:"counter"`
	Count   int64  `json:"count"`
}

// FunnelQuery selects row groups: days from Since on (YYYY-MM-DD, "" for
// all) and one playbook ("" for all).
type FunnelQuery struct {
	Since    string
	Playbook string
}

// Funnels keeps the funnel rollup: durable counters per (day, playbook,
// version, variant), folded from conversations' facts. Folding is
// idempotent per conversation: retries, a sweep that folds a whole
// transcript again and two processes folding at once count each fact of a
// conversation once. What a conversation folded is remembered for keep
// after its last fold; the counters are kept for good.
type Funnels interface {
	// Fold counts the facts of conversation conv under key, atomically,
	// and, when it did, clears the pending mark done of the same engine
	// (PendingMarks.Done; "" for none) in the same round trip: a turn
	// whose only work was its fold is finished with it. (On Redis the mark
	// is cleared in the same pipeline; a fold that fails puts it back.)
	Fold(ctx context.Context, conv string, key FunnelKey, facts []FunnelFact, keep time.Duration, done string) error
	// FoldMany does many folds at once (of many conversations, or of one
	// conversation's turns), each as Fold would, its Done mark included,
	// in one write where the engine can (embedded: one transaction;
	// Redis: one pipeline, one script per fold, the marks cleared in it
	// and put back for the folds that failed). It returns one error per
	// fold, in order: nil when that fold is counted.
	FoldMany(ctx context.Context, folds []FunnelFold, keep time.Duration) []error
	// Funnel returns the counters of the row groups q selects, one row
	// per (key, counter) with its total, in no particular order.
	Funnel(ctx context.Context, q FunnelQuery) ([]FunnelRow, error)
}

// FoldStep is a Step that also returns the turn's funnel fold (nil: none;
// its Conv and Done are not read).
type FoldStep func(*engine.Session) (*engine.Session, []Entry, *FunnelFold, error)

// TurnFolds is a SessionStore that can write a turn's funnel fold in the
// turn's own atomic write (the embedded engine; the Redis engine on one
// node, and on a Cluster for the ids it placed, PlacedIDs): such a turn
// needs neither a write after it for its fold nor a pending mark for it
// (SessionOptions.PendingFolded says which of them still leave work).
type TurnFolds interface {
	// FoldsTurns reports whether TurnFolded and CreateFolded write the
	// folds of conversation conv into f with the turn; when false they
	// must not be used for conv.
	FoldsTurns(f Funnels, conv string) bool
	// TurnFolded is Turn whose step also returns the turn's fold, kept
	// keep (as FoldMany's). A duplicate or stale try folds nothing.
	TurnFolded(ctx context.Context, id, clientID string, keep time.Duration, step FoldStep) (Result, error)
	// CreateFolded is Create with the first turn's fold; it is marked
	// pending as Create is (SessionOptions.Pending).
	CreateFolded(ctx context.Context, sess *engine.Session, entries []Entry, fold *FunnelFold, keep time.Duration) (Result, error)
}

// PlacedIDs is a SessionStore that places conversations by their ids (the
// Redis engine on a Cluster: in the hash slot of a funnel shard, so that a
// turn's fold is written by the turn's own script).
type PlacedIDs interface {
	// PlaceID returns the id to store a new conversation under, made from
	// id (conversation.NewIDAt's, not kept; the Redis engine may change
	// its last characters, which are random), or false when the store
	// does not take it: the caller then draws the id's random bits again.
	// It allocates only for the id it takes.
	PlaceID(id []byte) (string, bool)
}
