package conversation

import (
	"context"
	"slices"
	"strings"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/bounded"
	"github.com/playbook-dev/playbook/store"
)

// maxPrevious bounds the earlier conversations listed with one.
const maxPrevious = 20

// PreviousOf returns the conversations that came before c with the same
// visitor, newest first: those linked when it started (the widget's token
// of the chat it follows, the same visitor id or email), and the earlier
// chats in the activity feed of the person c is matched to (by a record
// made in it, or by the visitor's email). Who may see which of them is
// not decided here: the caller filters with the access policy.
func (s *Service) PreviousOf(ctx context.Context, c *handoff.Conversation) ([]*handoff.Conversation, error) {
	ids := slices.Clone(c.Previous)
	person, err := s.crm.PersonOf(ctx, c.ID, c.Visitor.Email)
	if err != nil {
		s.log.Warn("previous conversations: the person", "conversation", c.ID, "err", err)
	}
	if person != "" {
		items, err := s.crm.Feed(ctx, person, crm.FeedChats, maxPrevious+1)
		if err != nil {
			s.log.Warn("previous conversations: the person's feed", "conversation", c.ID, "err", err)
		}
		for _, it := range items {
			if it.Chat != nil && it.Chat.StartedAt.Before(c.StartedAt) {
				ids = append(ids, it.Chat.Conversation)
			}
		}
	}
	ids = slices.DeleteFunc(ids, func(id string) bool { return id == c.ID })
	slices.Sort(ids)
	ids = slices.Compact(ids)
	list, err := s.inbox.Previous(ctx, &handoff.Conversation{Previous: ids})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, b *handoff.Conversation) int { return b.StartedAt.Compare(a.StartedAt) })
	if len(list) > maxPrevious {
		list = list[:maxPrevious]
	}
	return list, nil
}

// PreviousKnown loads, in one round trip, the conversations named in the
// previous lists of list, as access.PreviousIDs needs them: only what it
// looks at (id, team, assignee).
func (s *Service) PreviousKnown(ctx context.Context, list ...*handoff.Conversation) ([]*handoff.Conversation, error) {
	var ids []string
	for _, c := range list {
		if c != nil {
			ids = append(ids, c.Previous...)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	found, err := s.inbox.Previous(ctx, &handoff.Conversation{Previous: ids})
	if err != nil {
		return nil, err
	}
	out := make([]*handoff.Conversation, len(found))
	for i, c := range found {
		out[i] = &handoff.Conversation{ID: c.ID, Team: c.Team, Assignee: c.Assignee}
	}
	return out, nil
}

// previousMemo remembers, for the conversations this process started,
// the earlier conversations their inbox records name
// (Conversation.Previous, fixed at Start), so that a handoff reads those
// records in its queue's own step (Handoff.Previous) for the new-chat
// notice instead of in a round trip after it. The record's own list
// checks the memo: a chat another process started, or one the memo
// dropped, is read after the queue as before. At most max chats; when
// full, a random one is dropped.
type previousMemo struct {
	m *bounded.Map[string, []string]
}

// previousMemoSize bounds previousMemo.
const previousMemoSize = 10000

func newPreviousMemo(max int) *previousMemo {
	return &previousMemo{m: bounded.New[string, []string](max)}
}

// put remembers the earlier conversations of conv (none: nothing to keep).
func (m *previousMemo) put(conv string, previous []string) {
	if m == nil || len(previous) == 0 {
		return
	}
	m.m.Put(conv, slices.Clone(previous))
}

// get returns what put kept for conv (nil: nothing).
func (m *previousMemo) get(conv string) []string {
	if m == nil {
		return nil
	}
	l, _ := m.m.Get(conv)
	return l
}

// knownOf is PreviousKnown's answer from records read already (HandOff's
// PreviousRead): id, team and assignee, in the order of their ids.
func knownOf(records []store.PreviousChat) []*handoff.Conversation {
	out := make([]*handoff.Conversation, len(records))
	for i, c := range records {
		out[i] = &handoff.Conversation{ID: c.ID, Team: c.Team, Assignee: c.Assignee}
	}
	slices.SortFunc(out, func(a, b *handoff.Conversation) int { return strings.Compare(a.ID, b.ID) })
	return out
}
