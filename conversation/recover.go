package conversation

import (
	"context"
	"errors"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// A turn is stored first and its work outside the transcript is done
// after: records go to the CRM, a handed-off chat goes to its team's queue
// with its wait timer. A process that dies (or loses Redis) in between
// would lose that work; so such turns are marked pending in the same round
// trip as the turn (redisstore Options.Pending), the mark is cleared when
// the work is done, and every process sweeps the marks left older than
// Config.RecoverAfter, redoing the work from what the transcript says. All of it
// is idempotent: records by their key, queueing by the inbox status, the
// timer by its id, webhook events by theirs (conversation, type and entry).
// A new conversation is marked too when a webhook wants conversation.started
// (redisstore Options.PendingCreate): its inbox record and the event are
// then redone by the sweep.

// LeavesWork reports whether a turn's entries need work after the store:
// records to create, a chat to queue, a team that was away to record on
// the conversation, webhook events to emit.
func LeavesWork(entries []store.Entry) bool {
	for _, e := range entries {
		if e.Kind == "record" || e.Kind == "missed" || e.Kind == "away" || eventOf(e.Kind) != "" {
			return true
		}
	}
	return false
}

// StartLeavesWork reports whether a new conversation is marked pending
// with its first turn: when a webhook wants conversation.started, whose
// emit must survive a Redis error. (Otherwise a start is not marked, and
// costs no round trip to clear a mark.)
func (s *Service) StartLeavesWork(ctx context.Context) bool {
	return s.crm != nil && s.crm.Subscribed(ctx, crm.EventConversationStarted)
}

// Done clears a turn's pending mark, in the batcher's next flush with the
// others waiting (see foldBatcher); it does not wait for it (a mark left by
// a failed flush is swept).
func (s *Service) Done(ctx context.Context, mark string) {
	s.folds.enqueue(foldItem{mark: mark})
}

// RecoverPending finishes the work of turns whose mark is older than
// Config.RecoverAfter.
func (s *Service) RecoverPending(ctx context.Context) {
	// The store stamps marks with the service's clock
	// (store.SessionOptions.Now), so their age is measured on it.
	now := s.now()
	marks, err := s.store.ClaimPending(ctx, now.Add(-s.cfg.RecoverAfter), now, 50)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("claiming pending turns", "err", err)
		}
		return
	}
	for _, m := range marks {
		if err := s.redoWork(ctx, m.Conversation, now); err != nil {
			s.log.Warn("finishing a turn's work after a failure (will try again)", "conversation", m.Conversation, "err", err)
			continue
		}
		s.log.Info("finished the work of a turn a failure had left", "conversation", m.Conversation)
		s.Done(ctx, m.Mark)
	}
	// The marks are cleared in the batcher's next flush: the sweep ends
	// when they are.
	if len(marks) > 0 {
		_ = s.Settle(ctx)
	}
}

// redoWork does again, idempotently, what a conversation's turns left to
// do outside the transcript: its records, and the queueing of a chat the
// bot handed off (with its wait timer).
func (s *Service) redoWork(ctx context.Context, conv string, now time.Time) error {
	entries, err := s.store.Transcript(ctx, conv, "", 0)
	if err != nil {
		return err
	}
	sess, _, err := s.store.Load(ctx, conv)
	if errors.Is(err, store.ErrNotFound) {
		return nil // expired: nothing left to do
	}
	if err != nil {
		return err
	}
	if err := s.redoFunnel(ctx, conv, sess, entries); err != nil {
		return err
	}
	for _, rec := range RecordsIn(entries) {
		if err := s.CreateRecord(ctx, conv, sess, rec); err != nil && !errors.Is(err, crm.ErrInvalid) {
			return err
		}
	}
	meta, err := s.inbox.Conversation(ctx, conv)
	if errors.Is(err, handoff.ErrNotFound) {
		// The start's inbox record was never written.
		meta, err = s.inbox.Start(ctx, handoff.Conversation{ID: conv, Playbook: sess.Playbook, Team: AwayTeam(entries),
			Visitor: handoff.Visitor{ID: sess.Visitor.ID, Name: sess.Visitor.Name, Email: sess.Visitor.Email, Page: sess.Visitor.Page}})
	}
	if err != nil {
		return err
	}
	if err := s.EmitStarted(ctx, meta); err != nil {
		return err
	}
	if team := AwayTeam(entries); team != "" && meta.Team == "" {
		if err := s.inbox.Away(ctx, conv, team); err != nil {
			return err
		}
	}
	if err := s.requeue(ctx, conv, sess, meta, entries, now); err != nil {
		return err
	}
	if err := s.redoMissed(ctx, conv, meta, entries); err != nil {
		return err
	}
	return s.redoEvents(ctx, conv, sess, entries)
}

// redoMissed marks a chat missed whose wait ran out (a "missed" entry)
// while it still sits in its team's queue: the process that ran the turn
// died, or lost Redis, before it did. A chat marked already, or taken
// since, is left as it is.
func (s *Service) redoMissed(ctx context.Context, conv string, meta *handoff.Conversation, entries []store.Entry) error {
	lastHandoff, lastMissed := -1, -1
	for i, e := range entries {
		switch e.Kind {
		case "handoff":
			lastHandoff = i
		case "missed":
			lastMissed = i
		}
	}
	if lastMissed < 0 || lastMissed < lastHandoff {
		return nil // no wait ran out, or the chat was handed off again since
	}
	if meta.Status != handoff.StatusOpen || meta.Assignee != "" {
		return nil
	}
	return s.missed(ctx, conv, entries[lastMissed:lastMissed+1])
}

// redoEvents does again what crmAfterTurn does after the turns the CRM
// hears of (crmHears): the chat refreshed in its person's feed (and its
// transcript kept when the chat is over: a lead's end has no event, but
// its feed links the transcript), and the webhook events emitted again;
// those already emitted are not added twice (crm EmitOnce).
func (s *Service) redoEvents(ctx context.Context, conv string, sess *engine.Session, entries []store.Entry) error {
	events, final := crmHears(entries)
	if len(events) == 0 && !final {
		return nil
	}
	person := s.refreshChat(ctx, conv, sess, final, nil)
	for _, e := range events {
		if err := s.emitConversation(ctx, eventOf(e.Kind), conv, person, e.ID); err != nil {
			return err
		}
	}
	return nil
}

// requeue queues a chat the bot handed off, with its wait timer, unless
// that was done.
func (s *Service) requeue(ctx context.Context, conv string, sess *engine.Session, meta *handoff.Conversation, entries []store.Entry, now time.Time) error {
	var handoffAt *store.Entry
	for i := range entries {
		if entries[i].Kind == "handoff" {
			handoffAt = &entries[i]
		}
	}
	if handoffAt == nil || sess.Status != engine.StatusHandoff {
		return nil
	}
	// The wait timer first, and whether or not the chat is queued: the
	// queue may have been written without it (its write failed, or the
	// process died in between). Setting it again moves it to the same
	// time; one that fired already is not waited for any more, and the
	// engine ignores it (the session's Timer is another, or none).
	if sess.Timer != "" {
		wait, _ := handoffAt.Data["wait_s"].(float64)
		at := handoffAt.At.Add(time.Duration(wait) * time.Second)
		if at.Before(now) {
			at = now
		}
		if err := s.timers.Set(ctx, conv, sess.Timer, at); err != nil {
			return err
		}
	}
	if meta.Status != handoff.StatusBot {
		return nil // queued (or taken, or resolved) already
	}
	team, _ := handoffAt.Data["team"].(string)
	priority, _ := handoffAt.Data["priority"].(string)
	p, err := s.reg.Version(ctx, sess.Version)
	if err != nil {
		return err
	}
	_, err = s.Queue(ctx, conv, handoffAt.Card, engine.HandoffRequest{Team: team, Priority: priority}, CollectedVisitor(p, sess), LastMessage(entries))
	return err
}
