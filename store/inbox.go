package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// Outcomes of the inbox's atomic steps, shared by every engine. Package
// handoff re-exports them under its own names (handoff.ErrNotFound is
// ErrInboxNotFound, ...).
var (
	ErrInboxNotFound = errors.New("not found")
	ErrInboxExists   = errors.New("already exists")
	ErrTaken         = errors.New("another agent has already taken this conversation")
	ErrClosed        = errors.New("the conversation is resolved; it cannot be reassigned or reopened")
	ErrNotResolved   = errors.New("a conversation can be rated once it is resolved")
	ErrRated         = errors.New("this conversation has already been rated")
	// ErrVisitorList is what InboxStarts.CreateStarted wraps when it
	// stored the conversation and its record but could not add it to its
	// visitor's conversations (a Redis Cluster, where they are in another
	// slot): the start stands; the visitor's next conversations may not
	// name this one.
	ErrVisitorList = errors.New("the conversation is stored, but not in its visitor's conversations")
)

// Status is where a conversation stands in the inbox.
type Status string

// Conversation statuses.
const (
	StatusBot      Status = "bot"      // the bot is talking; not in any queue
	StatusOpen     Status = "open"     // in a team's queue, or with an agent
	StatusSnoozed  Status = "snoozed"  // put aside until a time or the visitor's reply
	StatusResolved Status = "resolved" // closed; cannot be reassigned or reopened
	// StatusMissed: nobody took the chat within the handoff's wait (or
	// the visitor chose to leave a message instead), so the bot's offline
	// path ran. It stays in the team's Missed folder until an agent takes
	// or resolves it.
	StatusMissed Status = "missed"
)

// Visitor is what the inbox shows of the visitor.
type Visitor struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Page  string `json:"page,omitempty"`
}

// Last is a conversation's latest message, for the list.
type Last struct {
	From string `json:"from"` // visitor, bot or agent
	// Agent and Author are the id and name of the agent who wrote it (from
	// agent), so each inbox says "You" only for its own messages.
	Agent  string    `json:"agent,omitempty"`
	Author string    `json:"author,omitempty"`
	Text   string    `json:"text"`
	At     time.Time `json:"at"`
}

// CSAT is the visitor's rating. At is when it was last given, First when
// the first one was (the widget sends the rating on the first star click
// and may amend it with a comment; see AmendCSAT).
type CSAT struct {
	Score   int       `json:"score"`
	Comment string    `json:"comment,omitempty"`
	At      time.Time `json:"at"`
	First   time.Time `json:"first,omitzero"`
}

// AmendCSAT returns the rating to store when r comes for a conversation
// rated old (nil: not rated yet): r as the first rating, or r replacing
// old when it comes at most within after old's first rating (the first
// time is kept); ErrRated later. A rating stored before First existed
// counts from its At.
func AmendCSAT(old *CSAT, r CSAT, within time.Duration) (*CSAT, error) {
	if old == nil {
		r.First = r.At
		return &r, nil
	}
	first := old.First
	if first.IsZero() {
		first = old.At
	}
	if r.At.Sub(first) > within {
		return nil, ErrRated
	}
	r.First = first
	return &r, nil
}

// Conversation is one chat as the inbox sees it.
type Conversation struct {
	ID           string     `json:"id"`
	Status       Status     `json:"status"`
	Team         string     `json:"team,omitempty"`
	Assignee     string     `json:"assignee,omitempty"`
	AssigneeName string     `json:"assignee_name,omitempty"`
	Playbook     string     `json:"playbook"`
	Card         string     `json:"card,omitempty"`
	Priority     string     `json:"priority,omitempty"`
	Visitor      Visitor    `json:"visitor"`
	Labels       []string   `json:"labels"`
	Last         *Last      `json:"last,omitempty"`
	StartedAt    time.Time  `json:"started_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	SnoozedUntil *time.Time `json:"snoozed_until"`
	UntilReply   bool       `json:"snoozed_until_reply,omitempty"`
	ResolvedAt   *time.Time `json:"resolved_at,omitempty"`
	// QueuedAt is when the chat last went into a team's queue (a handoff,
	// a transfer, an unassign); nil when it never did. Kept after an agent
	// takes it: the time it waited is then the take's time less this.
	QueuedAt *time.Time `json:"queued_at,omitempty"`
	CSAT     *CSAT      `json:"csat"`
	Previous []string   `json:"previous,omitempty"`
	// QueuePosition is the conversation's place in its team's queue (1 is
	// next) as HandOff left it; not stored, 0 everywhere else.
	QueuePosition int `json:"-"`
	// PreviousRead are the ids in Handoff.Previous whose records exist,
	// in that order, with their team and assignee as HandOff read them;
	// not stored, nil everywhere else.
	PreviousRead []PreviousChat `json:"-"`
	// NoticeSent: HandOff published Handoff.Notice in its step; not
	// stored, false everywhere else.
	NoticeSent bool `json:"-"`
}

// PreviousChat is what the access policy looks at of an earlier
// conversation (access.PreviousIDs): its id, team and assignee.
type PreviousChat struct {
	ID, Team, Assignee string
}

// VisibleTo reports whether a member of c's team, or an admin, is a.
//
// Deprecated: the access policy decides who may see or act on a
// conversation (its assignee too): use access.Conversation.
func (c *Conversation) VisibleTo(a *Agent) bool {
	if a.Role == RoleAdmin {
		return true
	}
	return c.Team != "" && slices.Contains(a.Teams, c.Team)
}

// Handoff is a conversation the bot hands to a team.
type Handoff struct {
	Team     string
	Priority string
	// Card is the handoff card (the bot resumes from it if the chat comes
	// back).
	Card string
	// Visitor is what the bot learnt of the visitor; its fields that are
	// not empty fill in the conversation's.
	Visitor Visitor
	// Last, when set, is the conversation's latest message (the bot's
	// handoff text), for the lists.
	Last *Last
	// Timers are the conversation's timers to set with the handoff (its
	// wait in the queue), as Timers.Set would, in HandOff's own step: the
	// turn that hands off makes no round trip of its own for them. Only
	// for an engine that sets them in the caller's queue
	// (HandOffTimers); none otherwise. When HandOff returns an error they may or may not be set: the caller
	// sets them itself (setting a timer again moves it to the same time).
	Timers []Timer
	// Previous, when set, are the ids the caller expects the record to
	// name as its earlier conversations (Conversation.Previous, written
	// by Start): HandOff reads their team and assignee in its own step and
	// returns those whose records exist as the record's PreviousRead. The caller checks
	// them against the record's Previous.
	Previous []string
	// Notice, when set, is the new-chat notice an engine that can
	// (NoticePublisher) publishes in the handoff's own step, only when the
	// step succeeds and the records are still as the caller read them.
	// Conversation.NoticeSent then says so; otherwise the caller
	// publishes it after, as without Notice.
	Notice *HandoffNotice
}

// HandoffNotice is a handoff's new-chat notice, built before its step.
type HandoffNotice struct {
	// Channel is where it goes.
	Channel string
	// Before are the record's fields as read with the turn
	// (TurnReads.InboxFields), and Previous the fields of Handoff.Previous
	// (TurnReads.PreviousFields, in that order): the notice goes out only
	// when the step finds them unchanged.
	Before   map[string]string
	Previous [][3]string
	// Build returns the notice's message for the record as the step will
	// leave it (PreviousRead set from Previous); an error: no notice in
	// the step.
	Build func(c *Conversation) (string, error)
}

// NoticePublisher is an inbox engine that publishes Handoff.Notice in its
// step.
type NoticePublisher interface {
	// PublishesOn reports whether the notices it sends reach the
	// listeners of publisher (the same Redis as a Bus's, one node).
	PublishesOn(publisher any) bool
}

// Timer is one of a conversation's timers: its id and when it is due.
type Timer struct {
	ID string
	At time.Time
}

// Folder names: the lists of conversations. Every folder but FolderMine
// is kept per team; FolderMine per agent.
const (
	FolderUnassigned = "unassigned" // a team's queue, oldest first served
	FolderMine       = "mine"       // an agent's open chats
	FolderOpen       = "open"       // a team's open chats, queued or taken
	FolderSnoozed    = "snoozed"
	FolderClosed     = "closed" // the latest MaxClosed resolved chats
	FolderMissed     = "missed" // the latest MaxClosed missed chats
)

// MaxClosed is how many conversations a team's Closed and Missed folders
// keep (the oldest leave first).
const MaxClosed = 5000

// MaxPrevious is how many earlier conversations of a visitor Start links.
const MaxPrevious = 20

// Inbox keeps each handed-off conversation's inbox record and the folders
// it is in. Every method that changes a record changes its folders in the
// same step as far as the engine allows (see the engine's doc); the record,
// not the folders, says where a chat is. Times are the caller's clock.
// Conversations that do not exist are ErrInboxNotFound; resolved ones
// refuse every change but Rate with ErrClosed.
type Inbox interface {
	// Start records c as it is (the caller sets its status and times)
	// and adds it to its visitor's index (by email, else visitor id, when
	// either is set). It sets c.Previous to the visitor's earlier
	// conversations, newest first, at most MaxPrevious. The record and the
	// index expire retention after this write.
	Start(ctx context.Context, c *Conversation, retention time.Duration) error
	// Conversation returns one record.
	Conversation(ctx context.Context, id string) (*Conversation, error)
	// Conversations returns the records of ids that exist, in order.
	Conversations(ctx context.Context, ids []string) ([]*Conversation, error)
	// SetVisitor replaces a record's visitor.
	SetVisitor(ctx context.Context, id string, v Visitor) error
	// HandOff opens the conversation in h.Team's queue, unassigned, with
	// h's non-empty visitor fields merged in and h.Last as its latest
	// message; it leaves the folders it was in, renews the record's
	// retention and returns it (QueuePosition set) with the team's routing.
	HandOff(ctx context.Context, id string, h Handoff, at time.Time, retention time.Duration) (*Conversation, TeamConfig, error)
	// Assign gives the conversation to agent (id, name). With claim it
	// fails with ErrTaken when another agent has it. A snoozed chat stays
	// snoozed; any other becomes open, in the team's Open folder and the
	// agent's Mine. It returns the record and the assignee before.
	Assign(ctx context.Context, id, agent, name string, claim bool, at time.Time) (*Conversation, string, error)
	// ToBot takes the conversation out of every folder, unassigned, status
	// bot, resuming at card.
	ToBot(ctx context.Context, id, card string, at time.Time) (*Conversation, error)
	// Away sets the team of a conversation that has none (a team it has
	// is kept); it queues it nowhere.
	Away(ctx context.Context, id, team string) error
	// Miss moves the conversation to its team's Missed folder, unassigned.
	Miss(ctx context.Context, id string, at time.Time) (*Conversation, error)
	// Resolve closes the conversation: its team's Closed folder (team
	// "none" when it has none) and no other. It returns the record and
	// the assignee before.
	Resolve(ctx context.Context, id string, at time.Time) (*Conversation, string, error)
	// Reopen opens a resolved conversation again (the team's reopen
	// policy is the caller's to check): back in its assignee's Mine and
	// the team's Open folder, or the team's queue when nobody had it; out
	// of Closed; no resolved time. A conversation that is not resolved is
	// ErrNotResolved and does not change.
	Reopen(ctx context.Context, id string, at time.Time) (*Conversation, error)
	// Snooze moves the conversation to its team's Snoozed folder until
	// until (or the visitor's reply, untilReply).
	Snooze(ctx context.Context, id string, until time.Time, untilReply bool, at time.Time) (*Conversation, error)
	// Unsnooze reopens a snoozed conversation (queue or Mine, as before
	// the snooze); false, and no change, when it was not snoozed.
	Unsnooze(ctx context.Context, id string, at time.Time) (*Conversation, bool, error)
	// Touch records c's latest message, renews its retention and moves it
	// up the Open and Mine folders it is in (c as the caller read it).
	Touch(ctx context.Context, c *Conversation, last Last, retention time.Duration) error
	// SetLabels replaces a record's labels.
	SetLabels(ctx context.Context, id string, labels []string) error
	// Rate stores a rating on a resolved conversation (ErrNotResolved
	// otherwise): the first one, or one replacing it within amend of the
	// first (AmendCSAT; ErrRated later). Two at once store one of them whole.
	Rate(ctx context.Context, id string, r CSAT, amend time.Duration) (*Conversation, error)
	// List returns the conversations in folder of the owners (teams, or
	// one agent id for FolderMine), latest activity first, at most limit,
	// each once. Ids whose record is gone leave the folder.
	List(ctx context.Context, folder string, owners []string, limit int) ([]*Conversation, error)
	// Listed returns the ids of a folder of one owner, oldest first, at
	// most n.
	Listed(ctx context.Context, folder, owner string, n int) ([]string, error)
	// Unlist takes id out of team's queue, Open, Snoozed and Missed
	// folders and out of assignee's Mine (either may be "").
	Unlist(ctx context.Context, id, team, assignee string) error
	// ListedTeams returns the teams that have or had folders, and those
	// with a TeamConfig.
	ListedTeams(ctx context.Context) ([]string, error)
	// OpenCount returns how many conversations each agent has in Mine.
	OpenCount(ctx context.Context, agents []string) (map[string]int, error)
	// QueuePosition returns the team of the conversation and its place in
	// the team's queue (1 is next; 0 when it does not wait there).
	QueuePosition(ctx context.Context, id string) (string, int, error)
}

// Routing is how a team's new chats find an agent.
type Routing string

// Routing modes.
const (
	// Manual: chats wait in the queue until an agent takes one.
	Manual Routing = "manual"
	// RoundRobin: each chat goes to the next online agent with room, in
	// turn, fairly across server processes.
	RoundRobin Routing = "round_robin"
	// LeastBusy: each chat goes to the online agent with the fewest open
	// chats, if below capacity.
	LeastBusy Routing = "least_busy"
)

// ReopenPolicy is what a resolved chat of a team may become.
type ReopenPolicy string

// Reopen policies.
const (
	// ReopenNever: a resolved chat is closed for good (no reassign, no
	// reopen; records can still be created for its visitor). The default.
	ReopenNever ReopenPolicy = "never"
	// ReopenAllowed: a resolved chat opens again when its visitor writes
	// or an agent clicks Reopen.
	ReopenAllowed ReopenPolicy = "reopen"
)

// TeamConfig is a team's routing and reopen policy.
type TeamConfig struct {
	Routing Routing `json:"routing"`
	// Capacity is how many open chats an agent takes at most under
	// automatic routing; 0 means no limit. A chat that finds every agent
	// full waits in the queue.
	Capacity int `json:"capacity"`
	// Reopen is what a resolved chat may become; ReopenNever when never
	// set.
	Reopen ReopenPolicy `json:"reopen,omitempty"`
	// Hours are the team's opening hours, as an admin set them, for
	// open_hours(): "mon-fri 09:00-18:00 Europe/Berlin" (checked by the
	// caller); "" for none.
	Hours string `json:"hours,omitempty"`
	// Waits, from HandOff only (nil elsewhere, or when it could not read
	// them), are the team's recent waits as Waits returns them, read in
	// the same step: the visitor's first queue frame shows the usual wait
	// without another round trip. Not part of the configuration.
	Waits *[]time.Duration `json:"-"`
}

// Teams keeps the teams' routing.
type Teams interface {
	// SetTeamConfig stores a team's routing (checked by the caller); the
	// team is listed by ListedTeams from then on.
	SetTeamConfig(ctx context.Context, team string, c TeamConfig) error
	// TeamConfig returns a team's routing; Manual when never set.
	TeamConfig(ctx context.Context, team string) (TeamConfig, error)
	// NextTurn counts a team's round-robin turns: 1, 2, 3, ... across
	// every process sharing the store.
	NextTurn(ctx context.Context, team string) (int64, error)
	// AddWait records that a chat of team waited wait (≥ 0) in the queue
	// before an agent took it; the team keeps its latest keep (≥ 1).
	AddWait(ctx context.Context, team string, wait time.Duration, keep int) error
	// Waits returns the team's recorded waits, newest first (none: empty),
	// to the millisecond.
	Waits(ctx context.Context, team string) ([]time.Duration, error)
}

// HandOffTimers is an Inbox whose HandOff sets Handoff.Timers.
type HandOffTimers interface {
	// SetsTimersOf reports whether HandOff sets Handoff.Timers in t (the
	// timer queue of the same data, as t.Set would); when false,
	// Handoff.Timers must be left empty and the caller sets them in t.
	SetsTimersOf(t Timers) bool
}

// InboxStarts is a session store that can write a new conversation's
// inbox record (what Inbox.Start writes: the record, and the conversation
// added to its visitor's) in the same atomic step that creates the
// conversation: a start is then one write, and needs no pending mark for
// its record (a process killed after the create leaves nothing undone).
// On a Redis Cluster the visitor's conversations are in another slot:
// the record is written with the conversation, and the conversation is
// added to its visitor's in the same round trip, not the same step
// (ErrVisitorList when that part fails).
type InboxStarts interface {
	// StartsInbox reports whether CreateStarted writes conversation
	// conv's record into in (the same data); when false, CreateStarted
	// must not be used for conv.
	StartsInbox(in Inbox, conv string) bool
	// CreateStarted is Create with the first turn's fold (nil: none, as
	// TurnFolds.CreateFolded when the store folds turns) and c as the
	// conversation's inbox record, kept retention, as Inbox.Start writes
	// it: c.Previous is set, as Start sets it, to the visitor's earlier
	// conversations read in the same step. It is marked pending only for
	// the work the entries leave (SessionOptions.PendingFolded when the
	// fold goes with it) or PendingCreate. An error that wraps
	// ErrVisitorList comes with the stored conversation's Result.
	CreateStarted(ctx context.Context, sess *engine.Session, entries []Entry, fold *FunnelFold, keep time.Duration, c *Conversation, retention time.Duration) (Result, error)
}

// InboxEngine is everything package handoff keeps in a store.
type InboxEngine interface {
	Inbox
	Teams
	Agents
	Presence
	CannedResponses
}
