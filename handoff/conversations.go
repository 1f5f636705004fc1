package handoff

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Status is where a conversation stands in the inbox.
type Status = store.Status

// Conversation statuses.
const (
	StatusBot      = store.StatusBot
	StatusOpen     = store.StatusOpen
	StatusSnoozed  = store.StatusSnoozed
	StatusResolved = store.StatusResolved
	StatusMissed   = store.StatusMissed
)

// Visitor is what the inbox shows of the visitor.
type Visitor = store.Visitor

// Last is a conversation's latest message, for the list.
type Last = store.Last

// CSAT is the visitor's rating.
type CSAT = store.CSAT

// Conversation is one chat as the inbox sees it.
type Conversation = store.Conversation

// Handoff is a conversation the bot hands to a team.
type Handoff = store.Handoff

// Folder names.
const (
	FolderUnassigned = store.FolderUnassigned
	FolderMine       = store.FolderMine
	FolderOpen       = store.FolderOpen
	FolderSnoozed    = store.FolderSnoozed
	FolderClosed     = store.FolderClosed
	FolderMissed     = store.FolderMissed
)

// Start records a new conversation (status bot) and links it to the same
// visitor's earlier ones, found by visitor id or email.
func (s *Store) Start(ctx context.Context, c Conversation) (*Conversation, error) {
	nc, retention := s.Record(c)
	if err := s.st.Start(ctx, nc, retention); err != nil {
		return nil, err
	}
	return nc, nil
}

// Record is c as Start records it (status bot, started now), and how long
// the inbox keeps it: for a session store that writes it with the
// conversation itself (StartsWith), in place of Start.
func (s *Store) Record(c Conversation) (*Conversation, time.Duration) {
	now := s.now().UTC()
	c.Status, c.StartedAt, c.UpdatedAt = StatusBot, now, now
	if c.Labels == nil {
		c.Labels = []string{}
	}
	return &c, s.retention
}

// StartsWith returns sessions (a session store) as a store.InboxStarts
// when it writes conversation conv's record into this inbox with the
// conversation itself (CreateStarted with Record's record and retention,
// in place of Start).
func (s *Store) StartsWith(sessions any, conv string) (store.InboxStarts, bool) {
	is, ok := sessions.(store.InboxStarts)
	if !ok || !is.StartsInbox(s.st, conv) {
		return nil, false
	}
	return is, true
}

// Conversation returns a conversation's inbox record.
func (s *Store) Conversation(ctx context.Context, id string) (*Conversation, error) {
	return s.st.Conversation(ctx, id)
}

// UpdateVisitor fills in what is known of the visitor (fields of v that
// are not empty win).
func (s *Store) UpdateVisitor(ctx context.Context, id string, v Visitor) error {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return err
	}
	old := c.Visitor
	for _, f := range []struct {
		dst *string
		src string
	}{{&c.Visitor.ID, v.ID}, {&c.Visitor.Name, v.Name}, {&c.Visitor.Email, v.Email}, {&c.Visitor.Page, v.Page}} {
		if f.src != "" {
			*f.dst = f.src
		}
	}
	if c.Visitor == old {
		return nil
	}
	return s.st.SetVisitor(ctx, id, c.Visitor)
}

// HandOff puts a conversation in a team's queue, unassigned (the handoff
// card ran and someone of the team is online, or an agent put it back),
// and returns it with the team's routing.
func (s *Store) HandOff(ctx context.Context, id string, h Handoff) (*Conversation, TeamConfig, error) {
	return s.st.HandOff(ctx, id, h, s.now(), s.retention)
}

// SetsTimersOf reports whether HandOff sets Handoff.Timers in t
// (store.HandOffTimers); when false they must be left empty.
func (s *Store) SetsTimersOf(t store.Timers) bool {
	h, ok := s.st.(store.HandOffTimers)
	return ok && h.SetsTimersOf(t)
}

// PublishesNoticesOn reports whether HandOff publishes Handoff.Notice in
// its step where publisher's listeners hear it (store.NoticePublisher).
func (s *Store) PublishesNoticesOn(publisher any) bool {
	n, ok := s.st.(store.NoticePublisher)
	return ok && n.PublishesOn(publisher)
}

// Queue puts a conversation in team's queue, unassigned.
func (s *Store) Queue(ctx context.Context, id, team, priority, card string) (*Conversation, error) {
	c, _, err := s.HandOff(ctx, id, Handoff{Team: team, Priority: priority, Card: card})
	return c, err
}

// Assign gives a conversation to agent to. With claim set (an agent taking
// a chat for themselves) it fails with ErrTaken when another agent has it;
// without (reassigning), it moves it from whoever has it.
func (s *Store) Assign(ctx context.Context, id string, to *Agent, claim bool) (*Conversation, string, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	if err := s.mustBeAlive(ctx, c); err != nil {
		return nil, "", err
	}
	if c.Team == "" {
		return nil, "", fmt.Errorf("%w: the conversation is not in a team's queue", ErrInvalid)
	}
	if !to.InTeam(c.Team) {
		return nil, "", fmt.Errorf("%w: %s is not in team %s", ErrForbidden, to.Name, c.Team)
	}
	at := s.now()
	nc, prev, err := s.st.Assign(ctx, id, to.ID, to.Name, claim, at)
	if err == nil {
		s.recordWait(ctx, c, at)
	}
	return nc, prev, err
}

// AssignBy is Assign done by agent by (nil: the team's routing chose).
// When by gives the chat to someone else, that agent must be of the
// conversation's team and online (LeadBooster's rule: chats go only to
// people who are there); otherwise it fails with ErrUnavailable and the
// reason, and nothing changes. Taking a chat yourself has no such check.
func (s *Store) AssignBy(ctx context.Context, id string, by, to *Agent, claim bool) (*Conversation, string, error) {
	if by != nil && by.ID != to.ID {
		c, err := s.Conversation(ctx, id)
		if err != nil {
			return nil, "", err
		}
		if c.Team != "" && !to.InTeam(c.Team) {
			return nil, "", fmt.Errorf("%w: %s is not in team %s; transfer the chat to their team instead", ErrUnavailable, to.Name, c.Team)
		}
		p, err := s.PresenceOf(ctx, to)
		if err != nil {
			return nil, "", err
		}
		if p != Online {
			return nil, "", fmt.Errorf("%w: %s is %s; a chat can be given only to an agent who is online", ErrUnavailable, to.Name, p)
		}
	}
	return s.Assign(ctx, id, to, claim)
}

// Unassign puts a conversation back in its team's queue.
func (s *Store) Unassign(ctx context.Context, id string) (*Conversation, string, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	b, err := s.Queue(ctx, id, c.Team, c.Priority, c.Card)
	return b, c.Assignee, err
}

// Transfer moves a conversation to another team's queue, unassigned. The
// team must be one an agent is in (Teams): a chat sent to a team nobody is
// in would be seen by admins only.
func (s *Store) Transfer(ctx context.Context, id, team string) (*Conversation, string, error) {
	teams, err := s.Teams(ctx)
	if err != nil {
		return nil, "", err
	}
	if !slices.Contains(teams, team) {
		return nil, "", fmt.Errorf("%w: there is no team %q (teams: %s)", ErrInvalid, truncateRunes(team, 40), strings.Join(teams, ", "))
	}
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, "", err
	}
	n, err := s.Queue(ctx, id, team, c.Priority, c.Card)
	return n, c.Assignee, err
}

// ToBot takes a conversation out of the queues: the bot talks again (an
// agent handed it back, or nobody accepted in time).
func (s *Store) ToBot(ctx context.Context, id, card string) (*Conversation, error) {
	return s.st.ToBot(ctx, id, card, s.now())
}

// Away records on conversation id that the bot reached a handoff to team
// while the team was away (the bot's offline path ran): the conversation
// belongs to team from then on, for who may see it, but it is queued
// nowhere (no Unassigned, no Missed: nobody was there to miss it). A
// conversation that has a team keeps it (the first handoff it reached
// names it; a real handoff always sets its own). ErrNotFound when the
// conversation has no inbox record.
func (s *Store) Away(ctx context.Context, id, team string) error {
	return s.st.Away(ctx, id, team)
}

// Miss records that nobody took a queued conversation in time (its wait
// ran out, or the visitor chose to leave a message instead): it leaves the
// team's queue for the team's Missed folder, unassigned, and keeps its
// team, so the team still sees it with what the bot's offline path
// created. It returns the conversation after the change and the ids of
// the team's agents who were online when it happened.
func (s *Store) Miss(ctx context.Context, id string) (*Conversation, []string, error) {
	c, err := s.st.Miss(ctx, id, s.now())
	if err != nil {
		return nil, nil, err
	}
	var online []string
	if c.Team != "" {
		if online, err = s.OnlineAgents(ctx, c.Team); err != nil {
			return nil, nil, err
		}
	}
	return c, online, nil
}

// Resolve closes a conversation. It stays visible in the team's Closed
// folder; records can still be created from it.
func (s *Store) Resolve(ctx context.Context, id string) (*Conversation, string, error) {
	return s.st.Resolve(ctx, id, s.now())
}

// Reopen opens a resolved conversation again, when its team's reopen
// policy allows it: ErrClosed under ReopenNever, ErrNotResolved when it
// is not resolved.
func (s *Store) Reopen(ctx context.Context, c *Conversation) (*Conversation, error) {
	cfg, err := s.TeamConfigOf(ctx, c.Team)
	if err != nil {
		return nil, err
	}
	if cfg.Reopen != ReopenAllowed {
		return nil, ErrClosed
	}
	return s.st.Reopen(ctx, c.ID, s.now())
}

// Snooze puts a conversation aside until a time, or (untilReply) until
// the visitor writes again. The caller sets a timer for until.
func (s *Store) Snooze(ctx context.Context, id string, until time.Time, untilReply bool) (*Conversation, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status == StatusBot || c.Status == StatusMissed {
		return nil, fmt.Errorf("%w: only open conversations can be snoozed", ErrInvalid)
	}
	return s.st.Snooze(ctx, id, until, untilReply, s.now())
}

// Unsnooze reopens a snoozed conversation (its time came, or the visitor
// replied). It reports false when the conversation was not snoozed, so a
// timer that fires late, or twice, changes nothing.
func (s *Store) Unsnooze(ctx context.Context, id string) (*Conversation, bool, error) {
	return s.st.Unsnooze(ctx, id, s.now())
}

// Touch records a conversation's latest message and moves it up its lists.
func (s *Store) Touch(ctx context.Context, c *Conversation, last Last) error {
	err := s.st.Touch(ctx, c, last, s.retention)
	c.Last, c.UpdatedAt = &last, last.At
	return err
}

// SetLabels adds and removes labels.
func (s *Store) SetLabels(ctx context.Context, id string, add, remove []string) (*Conversation, error) {
	c, err := s.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	labels := c.Labels
	for _, l := range add {
		l = strings.TrimSpace(strings.ToLower(l))
		if l == "" || len(l) > 40 {
			return nil, fmt.Errorf("%w: a label has 1 to 40 characters", ErrInvalid)
		}
		if !slices.Contains(labels, l) {
			labels = append(labels, l)
		}
	}
	labels = slices.DeleteFunc(labels, func(l string) bool { return slices.Contains(remove, l) })
	sort.Strings(labels)
	if err := s.st.SetLabels(ctx, id, labels); err != nil {
		return nil, err
	}
	c.Labels = labels
	return c, nil
}

// Rate stores the visitor's rating (1 to 5) of a conversation. Only a
// resolved conversation can be rated (ErrNotResolved). The widget sends
// the rating on the first star click and again with the comment typed
// after it: a rating replaces the chat's earlier one for
// Options.AmendRating after the first, and is refused later (ErrRated).
func (s *Store) Rate(ctx context.Context, id string, score int, comment string) (*Conversation, error) {
	if score < 1 || score > 5 {
		return nil, fmt.Errorf("%w: a rating is 1 to 5", ErrInvalid)
	}
	if len([]rune(comment)) > 1000 {
		return nil, fmt.Errorf("%w: the comment is longer than 1,000 characters", ErrInvalid)
	}
	return s.st.Rate(ctx, id, CSAT{Score: score, Comment: comment, At: s.now().UTC()}, s.amendRating)
}

// List returns the conversations of a folder that agent a may see, newest
// activity first, at most limit.
func (s *Store) List(ctx context.Context, a *Agent, folder string, limit int) ([]*Conversation, error) {
	var owners []string
	switch folder {
	case FolderMine:
		owners = []string{a.ID}
	case FolderUnassigned, FolderOpen, FolderSnoozed, FolderClosed, FolderMissed:
		owners = a.Teams
		if a.Role == RoleAdmin {
			all, err := s.st.ListedTeams(ctx)
			if err != nil {
				return nil, err
			}
			owners = all
		}
	default:
		return nil, fmt.Errorf("%w: folder %q", ErrInvalid, folder)
	}
	convs, err := s.st.List(ctx, folder, owners, limit)
	if err != nil {
		return nil, err
	}
	return s.withoutGone(ctx, folder, convs)
}

// Previous returns the visitor's earlier conversations, newest first.
func (s *Store) Previous(ctx context.Context, c *Conversation) ([]*Conversation, error) {
	return s.st.Conversations(ctx, c.Previous)
}

// OpenCount returns how many conversations each agent has assigned.
func (s *Store) OpenCount(ctx context.Context, ids []string) (map[string]int, error) {
	return s.st.OpenCount(ctx, ids)
}

// QueuePosition returns the team whose queue conversation id waits in and
// its place there (1 is next; the queue is first come, first served). Its
// place is 0 when it does not wait (taken, missed, resolved, with the
// bot).
func (s *Store) QueuePosition(ctx context.Context, id string) (team string, pos int, err error) {
	return s.st.QueuePosition(ctx, id)
}
