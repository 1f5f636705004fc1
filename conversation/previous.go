package conversation

import (
	"context"
	"slices"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
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
