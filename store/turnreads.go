package store

import "context"

// TurnReads are reads a turn's step asks for once it knows what the turn
// does, for the work that follows it (a create card's record needs the
// conversation's inbox record and the CRM's memory of it). An engine that
// can (the Redis engine) sends them in the turn's own round trip, after
// the turn's write, and sets Read; the others leave Read false and the
// work reads as it would have. The values are what a read at that moment
// would have answered: as fresh as a read after the turn, no fresher, so
// whatever they are used for must be checked when written (the CRM's
// compare-and-sets do).
//
// The caller hands TurnReads to the store with [WithTurnReads]; the step
// sets what it wants (a step that lost a race runs again, and sets them
// again).
type TurnReads struct {
	// Inbox asks for the conversation's inbox record.
	Inbox bool
	// CRM asks for the CRM's memory of the conversation and, in the same
	// read, the index entries CRMIndexes (as CRM.Conversation).
	CRM        bool
	CRMIndexes []string
	// CRMRecords, with CRM, asks for the records those index entries and
	// the CRM's memory (its person and organization) name, in the same
	// round trip, by an engine that can (one Redis node: it reads the ids
	// and then the records in one script), as CRMRecordsRead.
	CRMRecords bool
	// Previous, with Inbox, asks for the status, team and assignee of
	// these earlier conversations (a handoff's new-chat notice names
	// them), as PreviousFields.
	Previous []string
	// Away, when not "", is a write with the turn rather than a read: the
	// team of a handoff that found its team away, to record on the
	// conversation's inbox record as Inbox.Away does, by an engine that
	// writes the record with the conversation (InboxStarts: the record is
	// in its slot). It sets AwayRecorded when it did; else the caller
	// calls Inbox.Away after the turn, as before.
	Away string

	// AwayRecorded is set by an engine that did Away with the turn: the
	// record has a team now (Away's, or the one it had).
	AwayRecorded bool
	// Quiet, set by the caller, says that nobody on this process follows
	// the conversation but the connection that makes the turn, which gets
	// the turn's entries from its result: an engine may then leave them
	// unpublished on the conversation's Channel when it knows that no
	// other process hears that channel (one Redis node: the turn script
	// asks Redis, see store/redis/fleet.go; the embedded engine: one
	// process). A follower that comes on this process while the turn is
	// stored is the caller's to catch up (Hub.CatchUpOthers). Reset keeps
	// it.
	Quiet bool

	// Read is set by an engine that read what was asked with the turn.
	Read bool
	// InboxRecord is the inbox record (nil with InboxErr
	// ErrInboxNotFound when there is none).
	InboxRecord *Conversation
	InboxErr    error
	// InboxFields are the inbox record's stored fields, in the engine's
	// own form (for HandoffNotice.Before; nil when not read).
	InboxFields map[string]string
	// PreviousFields are the status, team and assignee of each of
	// Previous, "" for a missing field (a gone record has no status).
	PreviousFields [][3]string
	// CRMMemory and CRMIDs are what CRM.Conversation answers; CRMErr its
	// error.
	CRMMemory map[string]string
	CRMIDs    []string
	CRMErr    error
	// CRMRecordsRead is the JSON of each record CRMRecords asked for, by
	// id ("" for a missing one), as CRM.Records answers; nil when they
	// were not read.
	CRMRecordsRead map[string]string
}

// Wanted reports whether r asks for anything.
func (r *TurnReads) Wanted() bool { return r != nil && (r.Inbox || r.CRM) }

// Reset forgets what was asked and read, for a step run again.
func (r *TurnReads) Reset() { *r = TurnReads{Quiet: r.Quiet} }

type turnReadsKey struct{}

// WithTurnReads is ctx carrying r to the store's Turn (and TurnFolded):
// what its step asks for in r is read with the turn by an engine that can.
func WithTurnReads(ctx context.Context, r *TurnReads) context.Context {
	return context.WithValue(ctx, turnReadsKey{}, r)
}

// TurnReadsContext is the context WithTurnReads makes (Context carrying
// Reads), as a value its caller keeps in memory of its own, such as a
// turn's state, and hands over by address: one allocation less a turn
// than WithTurnReads. Every other key is Context's; Done, Deadline and Err
// are Context's.
type TurnReadsContext struct {
	context.Context
	Reads *TurnReads
}

// Value is Reads for the key TurnReadsOf asks, else Context's value of
// key.
func (c *TurnReadsContext) Value(key any) any {
	if _, ok := key.(turnReadsKey); ok {
		return c.Reads
	}
	return c.Context.Value(key)
}

// TurnReadsOf returns the TurnReads ctx carries, nil when none; for
// engines.
func TurnReadsOf(ctx context.Context) *TurnReads {
	r, _ := ctx.Value(turnReadsKey{}).(*TurnReads)
	return r
}
