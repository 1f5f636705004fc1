package conversation

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// The agent feed (/ws/agent): which channels it listens on, what an inbox
// event means to one agent, and a followed conversation's entries. The
// transport keeps the socket, the follow and the order of entries; every
// decision on what an agent may see is made here.

// InboxChannel is the channel of inbox events (every process publishes
// and listens).
func (s *Service) InboxChannel() string { return s.inbox.InboxChannel() }

// MaySee reports whether agent a may see conversation conv now (false
// when it is gone); an error only when the store did not answer.
func (s *Service) MaySee(ctx context.Context, a *Agent, conv string) (bool, error) {
	c, err := s.inbox.Conversation(ctx, conv)
	if errors.Is(err, handoff.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return access.CanSee(a, c), nil
}

// FollowEntries returns conversation conv's entries after entry id after
// ("" from the start), private notes included, for agent a's feed
// (access.ErrForbidden when a may not see conv). Unlike Transcript it
// reads only the live transcript: the feed follows a conversation that
// is kept.
func (s *Service) FollowEntries(ctx context.Context, a *Agent, conv, after string) ([]protocol.Entry, error) {
	c, err := s.Conversation(ctx, a, conv)
	if err != nil {
		return nil, err
	}
	entries, err := s.store.Transcript(ctx, c.ID, after, 0)
	if err != nil {
		return nil, err
	}
	return feedEntries(entries), nil
}

// LiveEntries decodes the entries of a message on a conversation's live
// channel (one that is not a signal).
func LiveEntries(payload string) ([]protocol.Entry, error) {
	entries, err := store.DecodeLive(payload)
	return feedEntries(entries), err
}

func feedEntries(entries []store.Entry) []protocol.Entry {
	out := make([]protocol.Entry, len(entries))
	for i, e := range entries {
		out[i] = WireEntry(e)
	}
	return out
}

// FeedEvent is what an inbox event means to one agent's feed.
type FeedEvent struct {
	// EndedSession is the hash (SessionHash) of a sign-in session that
	// ended: the feeds of that session close. "" for other events.
	EndedSession string
	// Recheck: an admin changed this feed's agent (disabled, removed, a
	// new password, a token revoked): check the session or API token
	// again, and close when it ended.
	Recheck bool
	// About is the conversation the event is about ("" for none), and
	// Visible whether the agent may (still) see it: a feed following it
	// stops when not.
	About   string
	Visible bool
	// Frame is what the agent's tab gets; nil: nothing.
	Frame protocol.Frame
	// Presence is the availability the agent just chose (online, away,
	// offline), for the feed to keep; "" for other events.
	Presence string
}

// FeedEventFor decodes an inbox event (a message of InboxChannel) for
// agent a: events for another agent and about conversations a may not see
// give no frame; the previous ids a conversation names are cut to those a
// may see; a notice without a conversation reaches only the agent it is
// addressed to. An agent who is not available (away or offline: no new
// chats for them) gets a new chat's notice as the plain conversation
// change it also is: the list moves, no toast rings.
func FeedEventFor(a *Agent, available bool, payload string) (FeedEvent, error) {
	var ev InboxEvent
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		return FeedEvent{}, err
	}
	switch ev.Type {
	case "session_ended":
		return FeedEvent{EndedSession: ev.Session}, nil
	case "agent_changed":
		if ev.Agent == a.ID {
			return FeedEvent{Recheck: true}, nil
		}
		return FeedEvent{}, nil
	case "teams_changed":
		return FeedEvent{}, nil
	}
	if ev.To != "" && ev.To != a.ID {
		return FeedEvent{}, nil
	}
	if ev.Type == "presence" {
		return FeedEvent{Presence: ev.Presence}, nil
	}
	if ev.Type == protocol.TypeRecord {
		var seen []*crm.Record
		for _, r := range ev.Records {
			if r != nil && access.Record(a, r) == nil {
				seen = append(seen, r)
			}
		}
		if len(seen) == 0 {
			return FeedEvent{}, nil
		}
		return FeedEvent{Frame: &protocol.RecordChanged{Records: WireRecords(seen)}}, nil
	}
	if ev.Type == protocol.TypeNotify && ev.Kind == "new_chat" && !available {
		ev = InboxEvent{Type: protocol.TypeConversation, Conversation: ev.Conversation, PreviousKnown: ev.PreviousKnown}
	}
	var fe FeedEvent
	if ev.Conversation != nil {
		// A change may take a followed conversation out of reach (a
		// transfer to another team, a reassignment).
		fe.About, fe.Visible = ev.Conversation.ID, access.CanSee(a, ev.Conversation)
	}
	if ev.Conversation == nil && ev.To == "" || ev.Conversation != nil && !fe.Visible {
		return fe, nil
	}
	if ev.Conversation != nil && len(ev.Conversation.Previous) > 0 {
		ev.Conversation.Previous = access.PreviousIDs(a, ev.Conversation.Previous, ev.PreviousKnown)
	}
	fe.Frame = inboxFrame(ev)
	return fe, nil
}

// inboxFrame is the frame an inbox event becomes on an agent's feed:
// conversation or notify.
func inboxFrame(ev InboxEvent) protocol.Frame {
	if ev.Type == protocol.TypeConversation && ev.Kind == "" && ev.Text == "" && ev.Record == nil && ev.Person == nil {
		return &protocol.ConversationChanged{Conversation: WireConversation(ev.Conversation)}
	}
	n := &protocol.Notify{Kind: ev.Kind, Title: ev.Title, Text: ev.Text, Conversation: WireConversation(ev.Conversation), Record: WireRecord(ev.Record), Person: WireRecord(ev.Person)}
	if ev.Type != protocol.TypeNotify {
		return &namedNotify{ev.Type, n} // not published today; kept as it came
	}
	return n
}

// namedNotify is an inbox event of another type with a notify's fields.
type namedNotify struct {
	typ string
	*protocol.Notify
}

func (n *namedNotify) FrameType() string { return n.typ }
