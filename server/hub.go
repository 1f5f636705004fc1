package server

import (
	"context"

	"github.com/playbook-dev/playbook/conversation"
)

// The fan-out of live updates to this process's connections is
// conversation.Hub's. These adapters let a connection with unexported
// receive and resync methods follow channels.

// subscriber receives what is published on the channels it follows (see
// conversation.Subscriber).
type subscriber interface {
	receive(channel, payload string)
	resync(channel string)
}

// hub is conversation.Hub for subscribers of this package.
type hub struct{ h *conversation.Hub }

// asSubscriber adapts sub; equal subs give equal adapters, so Detach finds
// what Attach added.
type asSubscriber struct{ s subscriber }

func (a asSubscriber) Receive(ch, payload string) { a.s.receive(ch, payload) }
func (a asSubscriber) Resync(ch string)           { a.s.resync(ch) }

func (h hub) attach(ctx context.Context, ch string, sub subscriber) error {
	return h.h.Attach(ctx, ch, asSubscriber{sub})
}

func (h hub) detach(ch string, sub subscriber) { h.h.Detach(ch, asSubscriber{sub}) }

func (h hub) run(ctx context.Context) { h.h.Run(ctx) }

// conversationOf returns the conversation id in a channel name.
func conversationOf(ch string) string { return conversation.ConversationOf(ch) }

// signal is an ephemeral event on a conversation's channel: typing dots.
type signal = conversation.Signal

// publishSignal sends sig to everyone following conversation conv.
func (s *Server) publishSignal(ctx context.Context, conv string, sig signal) {
	s.svc.PublishSignal(ctx, conv, sig)
}
