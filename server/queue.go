package server

import (
	"context"
	"errors"
	"github.com/playbook-dev/playbook/store"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
)

// queueEvery is how often a waiting visitor's place in the team's queue is
// read again; a new place is sent as soon as it is seen.
const queueEvery = 2 * time.Second

// watchQueue sends the visitor their place in the queue conv waits in, and
// every change of it, until the chat leaves the queue (taken, missed,
// resolved), the connection follows another conversation, or it closes.
// team and pos are the place the handoff left it at (pos 0: unknown, read
// it first). The queue lives in Redis and moves on any process, so the
// place is read again every queueEvery: two reads per waiting visitor,
// background work that no turn waits for.
func (v *visitorConn) watchQueue(conv, team string, pos int) {
	if conv == "" {
		return
	}
	v.mu.Lock()
	if v.queued == conv || v.closed {
		v.mu.Unlock()
		return
	}
	v.queued = conv
	v.mu.Unlock()
	if pos > 0 {
		v.push(&protocol.Queue{Team: team, Position: pos})
	}
	go v.queueLoop(conv, pos)
}

// queueLoop is watchQueue's background loop; last is the place sent.
func (v *visitorConn) queueLoop(conv string, last int) {
	defer func() {
		v.mu.Lock()
		if v.queued == conv {
			v.queued = ""
		}
		v.mu.Unlock()
	}()
	tick := time.NewTicker(queueEvery)
	defer tick.Stop()
	for first := last == 0; ; first = false {
		if !first {
			select {
			case <-v.done:
				return
			case <-tick.C:
			}
		}
		if v.conversation() != conv {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		team, pos, err := v.s.inbox.QueuePosition(ctx, conv)
		cancel()
		switch {
		case err != nil:
			v.log.Warn("reading a waiting visitor's place in the queue", "conversation", conv, "err", err)
		case pos == 0:
			return // no longer waiting
		case pos != last:
			last = pos
			v.push(&protocol.Queue{Team: team, Position: pos})
			v.out.flush()
		}
	}
}

// leaveMessage is the waiting visitor's "leave a message instead": the
// handoff card's offline path runs now, as when its wait runs out (the
// same engine event: the handoff's timer), and the chat is missed for the
// team. The visitor's choice goes in the transcript as their message.
func (v *visitorConn) leaveMessage(ctx context.Context, f *protocol.LeaveMessage) {
	conv := v.conversation()
	if conv == "" {
		v.fail("no_conversation", "send start or resume first", f.ID)
		return
	}
	if _, fe := f.Check(); fe != nil { // the label is the service's to shape
		v.push(fe)
		return
	}
	if !v.lim.Allow() {
		v.fail("rate_limited", "slow down", f.ID)
		return
	}
	tctx, cancel := context.WithTimeout(ctx, turnTimeout)
	defer cancel()
	err := v.s.svc.LeaveMessage(tctx, conv, f.ID, f.Label, func(res store.Result, info conversation.TurnInfo) {
		v.deliverTurn(tctx, conv, res)
		if !res.Duplicate {
			v.status(info.Status, info.Outcome)
		}
		v.out.flush()
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		v.fail("not_found", "this conversation has ended or expired; start a new one", f.ID)
	case errors.Is(err, conversation.ErrNotWaiting):
		v.fail("invalid", "the conversation is not waiting for an agent", f.ID)
	case err != nil:
		v.log.Error("leaving a message instead of waiting", "conversation", conv, "err", err)
		v.fail("unavailable", "the store did not answer; try again", f.ID)
	}
}
