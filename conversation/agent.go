package conversation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// The agents' actions on a conversation. Each one loads the conversation,
// asks the access policy whether agent a may act on it, acts, and tells
// the inbox (every process) what changed. Errors are the domain's:
// access.ErrForbidden, handoff's (ErrNotFound, ErrTaken, ErrInvalid, ...)
// and the store's; the transport maps them.

// Conversation returns conversation id if agent a may see it.
func (s *Service) Conversation(ctx context.Context, a *handoff.Agent, id string) (*handoff.Conversation, error) {
	c, err := s.inbox.Conversation(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := access.Conversation(a, c); err != nil {
		return nil, err
	}
	return c, nil
}

// Take gives the conversation to agent to on a's behalf: to == nil (or a
// itself) takes it from the queue for a, refused with handoff.ErrTaken
// when someone has it; another agent (re)assigns it to them.
func (s *Service) Take(ctx context.Context, a *handoff.Agent, id, to string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	target, claim := a, to == ""
	if to != "" && to != a.ID {
		if target, err = s.inbox.Agent(ctx, to); err != nil {
			return nil, err
		}
	}
	return s.Assign(ctx, c.ID, a, target, claim)
}

// Unassign puts the conversation back in its team's queue, and routes it
// again under the team's routing.
func (s *Service) Unassign(ctx context.Context, a *handoff.Agent, id string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	nc, _, err := s.inbox.Unassign(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	s.Route(ctx, nc)
	return nc, nil
}

// Transfer moves the conversation to another team's queue and tells that
// team.
func (s *Service) Transfer(ctx context.Context, a *handoff.Agent, id, team string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	nc, _, err := s.inbox.Transfer(ctx, c.ID, team)
	if err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "new_chat", Conversation: nc, Title: "Chat transferred to " + teamTitle(team), Text: a.Name + " transferred the chat with " + visitorWho(nc) + " to " + team})
	s.Route(ctx, nc)
	return nc, nil
}

// HandBack gives the conversation back to the bot at card (a card of the
// playbook version it runs on whose needed vars the session has set, see
// engine.Program.CanResumeAt; else handoff.ErrInvalid).
func (s *Service) HandBack(ctx context.Context, a *handoff.Agent, id, card string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	sess, _, err := s.store.Load(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	p, err := s.reg.Version(ctx, sess.Version)
	if err != nil {
		return nil, err
	}
	if _, err := p.CanResumeAt(card, sess); err != nil {
		return nil, fmt.Errorf("%w: %v", handoff.ErrInvalid, err)
	}
	nc, err := s.inbox.ToBot(ctx, c.ID, card)
	if err != nil {
		return nil, err
	}
	left := store.Entry{From: "system", Kind: "left", Author: a.Name, At: s.now().UTC()}
	if _, _, err := s.TurnWith(ctx, c.ID, "", engine.Event{Kind: engine.EventResume, Card: card}, []store.Entry{left}); err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	return nc, nil
}

// SetLabels adds and removes labels.
func (s *Service) SetLabels(ctx context.Context, a *handoff.Agent, id string, add, remove []string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	nc, err := s.inbox.SetLabels(ctx, c.ID, add, remove)
	if err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	return nc, nil
}

// SnoozeUntil reads a snooze's until: "reply" (until the visitor writes,
// or 30 days), "tomorrow" and "next_week" (9:00 UTC of that day), or a
// future time in RFC 3339. It returns the time and whether the visitor's
// reply ends the snooze; bad input is handoff.ErrInvalid.
func SnoozeUntil(until string, now time.Time) (time.Time, bool, error) {
	nine := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 9, 0, 0, 0, time.UTC) }
	switch until {
	case "reply":
		return now.Add(30 * 24 * time.Hour), true, nil
	case "tomorrow":
		return nine(now.AddDate(0, 0, 1)), false, nil
	case "next_week":
		days := (8 - int(now.Weekday())) % 7
		if days == 0 {
			days = 7
		}
		return nine(now.AddDate(0, 0, days)), false, nil
	}
	t, err := time.Parse(time.RFC3339, until)
	if err != nil || !t.After(now) {
		return time.Time{}, false, fmt.Errorf("%w: until is reply, tomorrow, next_week or a future time (RFC 3339)", handoff.ErrInvalid)
	}
	return t, false, nil
}

// Snooze hides the conversation until `until` (see SnoozeUntil); its
// snooze timer reopens it then.
func (s *Service) Snooze(ctx context.Context, a *handoff.Agent, id, until string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	at, untilReply, err := SnoozeUntil(until, s.now().UTC())
	if err != nil {
		return nil, err
	}
	nc, err := s.inbox.Snooze(ctx, c.ID, at, untilReply)
	if err != nil {
		return nil, err
	}
	if err := s.timers.Set(ctx, c.ID, SnoozeTimer, at); err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	return nc, nil
}

// Resolve closes the conversation: the visitor sees it end (and may rate
// it), and its agent has room for a queued chat.
func (s *Service) Resolve(ctx context.Context, a *handoff.Agent, id string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	nc, _, err := s.inbox.Resolve(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if err := s.timers.Cancel(ctx, c.ID, SnoozeTimer); err != nil {
		s.log.Warn("cancelling a resolved chat's snooze timer (it finds the chat resolved)", "conversation", c.ID, "err", err)
	}
	resolved := store.Entry{From: "system", Kind: "resolved", Author: a.Name, At: s.now().UTC()}
	if cfg, err := s.inbox.TeamConfigOf(ctx, c.Team); err == nil && cfg.Reopen == handoff.ReopenAllowed {
		// The widget keeps its message box: the visitor's next message
		// reopens this chat rather than starting a new one.
		resolved.Data = map[string]any{"reopen": true}
	}
	if _, _, err := s.TurnWith(ctx, c.ID, "", engine.Event{Kind: engine.EventAgentLeft, Agent: a.Name}, []store.Entry{resolved}); err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	if owner, err := s.inbox.Agent(ctx, c.Assignee); err == nil {
		s.RouteQueued(ctx, owner) // the agent has room for a queued chat now
	}
	return nc, nil
}

// Reopen opens a resolved conversation again on agent a's click, when its
// team's reopen policy allows it (handoff.ErrClosed otherwise): back to
// the agent who had it, or to a when nobody had it. The visitor sees
// "Conversation reopened" and can write again.
func (s *Service) Reopen(ctx context.Context, a *handoff.Agent, id string) (*handoff.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	nc, err := s.reopen(ctx, c, a)
	if errors.Is(err, handoff.ErrNotResolved) {
		return nil, ErrNotClosed
	}
	return nc, err
}

// ErrNotClosed: Reopen on a conversation that is not resolved.
var ErrNotClosed = errors.New("the conversation is not resolved: there is nothing to reopen")

// ReopenByVisitor opens a resolved conversation again because its visitor
// wrote, when its team's policy allows it: back with the agent who had it,
// or, for a chat nobody had (missed, then closed), back in the team's
// queue through its handoff card, as when the bot first handed it off
// (its say, its wait, its offline path), with everything said so far in
// the one conversation. False (and no change) otherwise: the visitor's
// message then starts a new conversation.
func (s *Service) ReopenByVisitor(ctx context.Context, id string) (bool, error) {
	c, err := s.inbox.Conversation(ctx, id)
	if err != nil {
		return false, err
	}
	if c.Assignee == "" {
		if c.Card == "" || c.Team == "" {
			return false, nil // never handed off: there is no queue to go back to
		}
		err = s.reopenIntoQueue(ctx, c)
	} else {
		_, err = s.reopen(ctx, c, nil)
	}
	if errors.Is(err, handoff.ErrClosed) || errors.Is(err, handoff.ErrNotResolved) {
		return false, nil
	}
	return err == nil, err
}

// reopenIntoQueue reopens c, which nobody had, because its visitor wrote:
// a 'reopened' entry, then the bot resumes at the handoff card c.Card,
// which queues the chat for its team again (or runs its offline path when
// nobody of the team is there).
func (s *Service) reopenIntoQueue(ctx context.Context, c *handoff.Conversation) error {
	if _, err := s.inbox.Reopen(ctx, c); err != nil {
		return err
	}
	reopened := store.Entry{From: "system", Kind: "reopened", Author: "The visitor", At: s.now().UTC()}
	_, _, err := s.TurnWith(ctx, c.ID, "", engine.Event{Kind: engine.EventResume, Card: c.Card}, []store.Entry{reopened})
	return err
}

// reopen reopens c (by agent by, nil for the visitor) and gives the
// session back to the agent who had it (by when nobody had it).
func (s *Service) reopen(ctx context.Context, c *handoff.Conversation, by *handoff.Agent) (*handoff.Conversation, error) {
	nc, err := s.inbox.Reopen(ctx, c)
	if err != nil {
		return nil, err
	}
	who := "The visitor"
	if by != nil {
		who = by.Name
	}
	reopened := store.Entry{From: "system", Kind: "reopened", Author: who, At: s.now().UTC()}
	if nc.Assignee == "" && by != nil {
		// Nobody had it: the agent who reopened it takes it.
		if _, _, err := s.TurnWith(ctx, c.ID, "", engine.Event{Kind: engine.EventAgentLeft}, []store.Entry{reopened}); err != nil {
			return nil, err
		}
		return s.Assign(ctx, c.ID, by, by, true)
	}
	ev := engine.Event{Kind: engine.EventAgentJoined, Agent: nc.AssigneeName}
	if _, _, err := s.TurnWith(ctx, c.ID, "", ev, []store.Entry{reopened}); err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, nc)
	if by == nil || by.ID != nc.Assignee {
		title := visitorWho(nc) + " wrote again"
		if by != nil {
			title = by.Name + " reopened the chat with " + visitorWho(nc)
		}
		s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "reopened", To: nc.Assignee, Conversation: nc, Title: title, Text: who + " reopened the chat"})
	}
	return nc, nil
}

// RouteQueued offers agent a (who came online, or has room again) the
// chats waiting in their teams' queues, under automatic routing.
func (s *Service) RouteQueued(ctx context.Context, a *handoff.Agent) {
	for _, team := range a.Teams {
		ids, err := s.inbox.Queued(ctx, team, 20)
		if err != nil {
			s.log.Warn("routing queued chats", "team", team, "err", err)
			return
		}
		for _, id := range ids {
			if c, err := s.inbox.Conversation(ctx, id); err == nil {
				s.Route(ctx, c)
			}
		}
	}
}

// AuthorIDKey is where an agent's message or note keeps its author's id
// (Entry.Author is the name shown), for the access policy on deletes. The
// visitor never gets it.
const AuthorIDKey = "author_id"

// assignedError: another agent has the chat (it wraps handoff.ErrTaken).
type assignedError struct{ name string }

func (e assignedError) Error() string { return e.name + " has this chat; ask them to reassign it" }
func (e assignedError) Unwrap() error { return handoff.ErrTaken }

// Reply sends agent a's message to the visitor (text checked by the
// caller; clientID deduplicates a resent reply). Replying to a chat nobody
// has taken takes it; a chat another agent has is refused (wrapping
// handoff.ErrTaken), a resolved one too (handoff.ErrClosed).
func (s *Service) Reply(ctx context.Context, a *handoff.Agent, id, text, clientID string) (store.Entry, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return store.Entry{}, err
	}
	if c.Status == handoff.StatusResolved {
		return store.Entry{}, handoff.ErrClosed
	}
	if c.Assignee != a.ID {
		if c.Assignee != "" {
			return store.Entry{}, assignedError{c.AssigneeName}
		}
		if c, err = s.Assign(ctx, c.ID, a, a, true); err != nil {
			return store.Entry{}, err
		}
	}
	e := store.Entry{From: "agent", Kind: "message", Text: text, Author: a.Name, ClientID: clientID, At: s.now().UTC(), Data: map[string]any{AuthorIDKey: a.ID}}
	return s.appendEntry(ctx, a, c, clientID, e)
}

// Note adds agent a's private note (the visitor never sees it); the agents
// it @mentions who may see the chat are notified.
func (s *Service) Note(ctx context.Context, a *handoff.Agent, id, text, clientID string) (store.Entry, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return store.Entry{}, err
	}
	e := store.Entry{From: "agent", Kind: "note", Text: text, Author: a.Name, ClientID: clientID, At: s.now().UTC(), Data: map[string]any{AuthorIDKey: a.ID}}
	for _, name := range Mentions(text) {
		if m, err := s.inbox.AgentByName(ctx, name); err == nil && access.CanSee(m, c) {
			s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "mention", To: m.ID, Conversation: c, Title: a.Name + " mentioned you", Text: truncate(text, 120)})
		}
	}
	return s.appendEntry(ctx, a, c, clientID, e)
}

// DeleteEntry deletes an agent's message or note: its author or an admin
// may (the access policy). The deleted entry of a note is marked private:
// the visitor never learns the note existed.
func (s *Service) DeleteEntry(ctx context.Context, a *handoff.Agent, id, target string) (store.Entry, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return store.Entry{}, err
	}
	entries, err := s.store.Transcript(ctx, c.ID, "", 0)
	if err != nil {
		return store.Entry{}, err
	}
	var found *store.Entry
	for i, e := range entries {
		if e.ID == target && e.From == "agent" && (e.Kind == "message" || e.Kind == "note") {
			found = &entries[i]
		}
	}
	if found == nil {
		return store.Entry{}, fmt.Errorf("%w: no agent message with that id", handoff.ErrNotFound)
	}
	authorID, _ := found.Data[AuthorIDKey].(string)
	if err := access.DeleteEntry(a, c, access.Author{ID: authorID, Name: found.Author}); err != nil {
		return store.Entry{}, err
	}
	data := map[string]any{"target": target}
	if found.Kind == "note" {
		data["private"] = true
	}
	e := store.Entry{From: "system", Kind: "deleted", Author: a.Name, At: s.now().UTC(), Data: data}
	return s.appendEntry(ctx, a, c, "delete:"+target, e)
}

// appendEntry stores an agent's entry (deduplicated by client id) and
// returns it as stored.
func (s *Service) appendEntry(ctx context.Context, a *handoff.Agent, c *handoff.Conversation, clientID string, e store.Entry) (store.Entry, error) {
	key := ""
	if clientID != "" {
		key = "agent:" + a.ID + ":" + clientID
	}
	res, err := s.store.Turn(ctx, c.ID, key, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		return sess, []store.Entry{e}, nil
	})
	if err != nil {
		return store.Entry{}, err
	}
	if len(res.Entries) == 0 {
		return store.Entry{}, fmt.Errorf("conversation %s: the store stored nothing", c.ID)
	}
	if !res.Duplicate && (e.Kind == "message" || e.Kind == "note" || e.Kind == "file") {
		text := e.Text
		if e.Kind == "file" {
			text = "📎 " + text
		}
		if err := s.inbox.Touch(ctx, c, handoff.Last{From: e.From, Agent: a.ID, Author: a.Name, Text: truncate(text, 200), At: e.At}); err != nil {
			s.log.Warn("updating the inbox's last message", "conversation", c.ID, "err", err)
		} else {
			s.PublishConversation(ctx, c)
		}
	}
	return res.Entries[0], nil
}

// Mentions returns the @names in a note.
func Mentions(text string) []string {
	var out []string
	for _, w := range strings.Fields(text) {
		if name, ok := strings.CutPrefix(w, "@"); ok {
			name = strings.TrimRight(name, ".,;:!?)")
			if name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// Details is what an agent sees of a conversation (GET
// /api/conversations/{id}, protocol.ConversationDetails). The pointer
// fields come only while the conversation's session is kept; Card and
// PlaybookTitle also need its playbook version.
type Details struct {
	Conversation *handoff.Conversation `json:"conversation"`
	// Vars are the playbook's vars as the bot saved them.
	Vars map[string]any `json:"vars"`
	// Records are the data of the transcript's record entries (the
	// records the bot made), oldest first.
	Records []map[string]any `json:"records"`
	// Previous are the visitor's earlier conversations that the agent may
	// see, newest first.
	Previous      []*handoff.Conversation `json:"previous"`
	Outcome       *string                 `json:"outcome,omitempty"`
	SessionStatus *engine.Status          `json:"session_status,omitempty"`
	Card          *string                 `json:"card,omitempty"`
	PlaybookTitle *string                 `json:"playbook_title,omitempty"`
	// HandBackCards are the cards the bot may resume at (HandBack): those
	// whose needed vars the session has set (engine.Program.ResumeCards).
	HandBackCards []string `json:"handback_cards,omitempty"`
	// VarLabels are the labels of the vars that have one (a var's
	// `label:`), in the conversation's locale: what the details panel
	// shows instead of the names.
	VarLabels map[string]string `json:"var_labels,omitempty"`
	// Reopen: the conversation is resolved and its team's policy lets an
	// agent reopen it.
	Reopen bool `json:"reopen,omitempty"`
}

// VarLabels maps the names of p's vars that have a label to that label in
// locale (engine.VarLabel); nil when none has one.
func VarLabels(p *engine.Program, locale string) map[string]string {
	var out map[string]string
	for _, v := range p.Vars {
		if l := engine.VarLabel(p, v, locale); l != "" {
			if out == nil {
				out = map[string]string{}
			}
			out[v.Name] = l
		}
	}
	return out
}

// Details returns conversation id as agent a may see it: its session's
// vars and place, the records the bot made, and the earlier conversations
// of the same visitor that the access policy lets a see (the
// conversation's own previous ids are cut to those).
func (s *Service) Details(ctx context.Context, a *handoff.Agent, id string) (*Details, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	d := &Details{Conversation: c, Vars: map[string]any{}, Records: []map[string]any{}}
	if c.Status == handoff.StatusResolved {
		cfg, err := s.inbox.TeamConfigOf(ctx, c.Team)
		if err != nil {
			return nil, err
		}
		d.Reopen = cfg.Reopen == handoff.ReopenAllowed
	}
	if sess, _, err := s.store.Load(ctx, c.ID); err == nil {
		if sess.Vars != nil {
			d.Vars = sess.Vars
		}
		d.Outcome, d.SessionStatus = &sess.Outcome, &sess.Status
		if p, err := s.reg.Version(ctx, sess.Version); err == nil {
			d.VarLabels = VarLabels(p, sess.Locale)
			if sess.Card >= 0 && sess.Card < len(p.Cards) {
				d.Card, d.PlaybookTitle = &p.Cards[sess.Card].Name, &p.Title
				d.HandBackCards = p.ResumeCards(sess)
			}
		}
	}
	if entries, err := s.store.Transcript(ctx, c.ID, "", 0); err == nil {
		for _, e := range entries {
			if e.Kind == "record" {
				d.Records = append(d.Records, e.Data)
			}
		}
	}
	prev, err := s.PreviousOf(ctx, c)
	if err != nil {
		return nil, err
	}
	d.Previous = access.Visible(a, prev)
	c.Previous = make([]string, len(d.Previous))
	for i, p := range d.Previous {
		c.Previous[i] = p.ID
	}
	return d, nil
}
