package conversation

import (
	"context"
	"errors"
	"strings"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// ErrNotWaiting: the visitor asked to leave a message instead of waiting,
// but the conversation is not waiting for an agent.
var ErrNotWaiting = errors.New("the conversation is not waiting for an agent")

// LeaveMessage is the waiting visitor's "leave a message instead": the
// handoff card's offline path runs now, as when its wait runs out (the
// same engine event: the handoff's timer), and the chat is missed for the
// team. label is the visitor's choice, stored as their message (clientID
// deduplicates it); committed is called as for TurnThen. It returns
// store.ErrNotFound for a conversation that expired and ErrNotWaiting
// for one that waits for nobody.
func (s *Service) LeaveMessage(ctx context.Context, conv, clientID, label string, committed func(store.Result, TurnInfo)) error {
	sess, _, err := s.store.Load(ctx, conv)
	if err != nil {
		return err
	}
	if sess.Status != engine.StatusHandoff || sess.Timer == "" {
		return ErrNotWaiting
	}
	label = strings.TrimSpace(truncate(label, 200))
	if label == "" {
		label = "Leave a message instead"
	}
	entry := store.Entry{From: "visitor", Kind: "message", Text: label, ClientID: clientID, At: s.now().UTC()}
	ev := engine.Event{Kind: engine.EventTimer, Timer: sess.Timer}
	_, info, err := s.TurnThen(ctx, conv, clientID, ev, []store.Entry{entry}, committed)
	if err != nil {
		return err
	}
	if info.Before == engine.StatusHandoff && info.Status != engine.StatusHandoff {
		// The handoff's timer has nothing left to do.
		if err := s.timers.Cancel(ctx, conv, sess.Timer); err != nil {
			s.log.Warn("cancelling the handoff timer", "conversation", conv, "err", err)
		}
	}
	return nil
}

// Rate stores the visitor's rating of their resolved chat (a score from 1
// to 5 and a comment; a new one replaces it for a while after the first:
// handoff.Store.Rate) and tells the inbox. Errors are handoff's:
// ErrNotResolved, ErrRated, ErrNotFound, ErrInvalid, or the store's.
func (s *Service) Rate(ctx context.Context, conv string, score int, comment string) (*handoff.Conversation, error) {
	c, err := s.inbox.Rate(ctx, conv, score, comment)
	if err != nil {
		return nil, err
	}
	s.PublishConversation(ctx, c)
	return c, nil
}
