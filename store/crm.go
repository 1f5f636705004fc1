package store

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// CRM keeps the CRM's records and their indexes. The crm package plans a
// change in Go from what it read (which person an email names, which
// organization a domain names) and hands the plan to [CRM.Apply]; the
// records themselves are opaque JSON here.
//
// Values are strings: a record's JSON, an index's record id. "" means
// absent everywhere.
type CRM interface {
	// Records returns the JSON of each record id, "" for a missing one. A
	// new record of a change still under way (see [CRMChange]) is returned
	// in its pending form; see [PendingRecord].
	Records(ctx context.Context, ids ...string) ([]string, error)
	// Lookup returns the record id an index entry (see [IndexKey]) points
	// at, or "".
	Lookup(ctx context.Context, index string) (string, error)
	// Intent returns the Done value of the change applied with an
	// idempotency key (see [CRMChange.Key]), or "" when the key is unused.
	// A change left under way under the key (a crash between its steps) is
	// finished first.
	Intent(ctx context.Context, key string) (string, error)
	// Apply commits a change (see [CRMChange] for the guarantees). It
	// returns ErrStale when a compare-and-set failed (nothing of the change
	// remains then), and dup with the key's value when the change's
	// idempotency key was used by another, finished change.
	Apply(ctx context.Context, c *CRMChange) (dup string, err error)
	// Conversation returns what the CRM remembers of a conversation (the
	// fields [CRMChange.Conv] set; empty for conv "") and, in the same
	// read, what each index entry points at ("" for none), as Lookup.
	Conversation(ctx context.Context, conv string, indexes ...string) (map[string]string, []string, error)
	// Results returns the ids of the records made from a conversation,
	// oldest first, at most limit.
	Results(ctx context.Context, conv string, limit int) ([]string, error)
	// List returns ids of records of a kind, newest first: those created
	// before beforeMs (Unix ms; 0 for no bound), skipping offset, at most
	// count.
	List(ctx context.Context, kind string, beforeMs int64, offset, count int) ([]string, error)
	// Count returns how many records of a kind there are.
	Count(ctx context.Context, kind string) (int64, error)
	// Feed returns the members of a record's activity feed, newest first
	// (highest score first; ties by member, descending), at most limit.
	Feed(ctx context.Context, id string, limit int) ([]Scored, error)
	// Chats returns the JSON of each conversation's chat item, "" for none.
	Chats(ctx context.Context, convs ...string) ([]string, error)
	// Next returns the next number of a counter shared by every process
	// using the store (1, 2, 3, ...): a team's round robin.
	Next(ctx context.Context, counter string) (int64, error)
	// PutArchive keeps a conversation's archived transcript; Archive
	// returns it, or nil and no error when there is none.
	PutArchive(ctx context.Context, conv string, b []byte) error
	Archive(ctx context.Context, conv string) ([]byte, error)
}

// pendingMark starts the pending form of a record: "~", the Unix ms the
// change was planned at, "~", the JSON.
const pendingMark = "~"

// PendingRecordForm is the pending form of a new record's JSON.
func PendingRecordForm(plannedMs int64, json string) string {
	return pendingMark + strconv.FormatInt(plannedMs, 10) + pendingMark + json
}

// PendingRecord reports whether a value Records returned is a record a change
// under way wrote and has not finished, and when that change was planned
// (Unix ms). Such a record is not yet anybody's to link to: the change may
// still be undone.
func PendingRecord(v string) (plannedMs int64, ok bool) {
	rest, ok := strings.CutPrefix(v, pendingMark)
	if !ok {
		return 0, false
	}
	n, _, ok := strings.Cut(rest, pendingMark)
	if !ok {
		return 0, false
	}
	ms, err := strconv.ParseInt(n, 10, 64)
	return ms, err == nil
}

// Scored is a member of a sorted collection and its score.
type Scored struct {
	Member string
	Score  float64
}

// IndexKey names an index entry: kind is "email", "phone", "domain" or
// "orgname"; value is already normalized.
func IndexKey(kind, value string) string { return kind + ":" + value }

// CAS is one compare-and-set of a change: the record (or index entry)
// Name must hold Old ("" = absent) and then holds New ("" = deleted).
// Holding New already counts as success, so a change can be applied again.
type CAS struct {
	Name string
	Old  string
	New  string
}

// CRMChange is one planned change of the CRM. Engines apply it all or
// nothing when they can (the embedded engine, in one transaction), and
// answer ErrStale when a compare-and-set found a value other than the one
// the change was planned on: the caller reads again and plans again. On
// Redis (Cluster) it is applied in steps that each touch one slot, in this
// order, so no reader ever sees an index that points at a missing record:
//
//  1. the idempotency key (Key) is claimed with the plan, and new records
//     (Records with Old "") are written in their pending form (see
//     [PendingRecord]: nobody links to them yet);
//  2. index entries (Indexes) and changed records (Records with Old set)
//     are compared and set;
//  3. new records take their final form; everything else: lists, feeds,
//     conversation fields, chats, outbox events (each event once, by id);
//  4. Key is marked done.
//
// A failed compare in 2 undoes what 1 and 2 wrote and answers ErrStale. A
// crash between steps leaves the plan under Key: applying a change with
// the same Key again (a retried create) finishes that plan first.
type CRMChange struct {
	// Key is the idempotency key ("" for none); Done is what it holds once
	// the change is applied, kept for KeyTTL.
	Key    string
	Done   string
	KeyTTL time.Duration
	// Planned is when the change was planned (Unix ms), for the pending
	// form of its new records.
	Planned int64

	Records []CAS
	Indexes []CAS

	// Listed puts records in their kind's list, scored by creation (ms).
	Listed []Listed
	// Conv sets fields of a conversation's memory.
	Conv []ConvField
	// Results adds records to a conversation's results.
	Results []ConvResult
	// Feeds adds members to activity feeds.
	Feeds []FeedAdd
	// Chats writes conversations' chat items.
	Chats []Chat
	// Events go to the webhook outbox, each once by its id.
	Events []OutboxEvent
	// Publish are messages for the processes' bus, sent with step 3 by
	// an engine that implements [CRMPublisher] (others ignore them): the
	// agents told of the records in the same round trip that finishes
	// them. A plan finished after a crash sends them then.
	Publish []Message
}

// CRMPublisher is a CRM engine that sends a change's Publish messages.
type CRMPublisher interface {
	// PublishesOn reports whether the messages it sends reach the
	// listeners of publisher (the same Redis as a Bus's).
	PublishesOn(publisher any) bool
}

// Listed is a record in its kind's list.
type Listed struct {
	Kind string
	ID   string
	Ms   int64
}

// ConvField is one field of a conversation's memory.
type ConvField struct {
	Conv, Field, Value string
}

// ConvResult is a record made from a conversation, with its order.
type ConvResult struct {
	Conv  string
	ID    string
	Score int64
}

// FeedAdd adds Member to the feed of record Owner at Ms; with NX an
// existing member keeps its score.
type FeedAdd struct {
	Owner  string
	Member string
	Ms     int64
	NX     bool
}

// Chat is a conversation's chat item (JSON).
type Chat struct {
	Conv string
	JSON string
}

// CRMEngine is what an engine gives the CRM: its records and its webhook
// outbox.
type CRMEngine interface {
	CRM
	Outbox
}
