package conversation

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// InboxEvent is what goes out on the inbox channel to every process, and
// from there to the agents allowed to see it.
type InboxEvent struct {
	Type         string                `json:"type"`            // conversation | notify
	Kind         string                `json:"kind,omitempty"`  // notify: new_chat | assigned | mention | reopened | missed
	To           string                `json:"to,omitempty"`    // notify one agent only
	Title        string                `json:"title,omitempty"` // notify: what happened (notifyTitle)
	Text         string                `json:"text,omitempty"`
	Conversation *handoff.Conversation `json:"conversation"`
	// Record and Person: a CRM note for the agent (kind sales_note), which
	// may come without a conversation the agent can see.
	Record *crm.Record `json:"record,omitempty"`
	Person *crm.Record `json:"person,omitempty"`
	// Records: type record, CRM records created or changed together.
	Records []*crm.Record `json:"records,omitempty"`
	// Presence: type presence, the availability agent To chose (online,
	// away, offline); their sockets on every process keep it to quiet
	// new-chat notices. Never sent to a tab.
	Presence string `json:"presence,omitempty"`
	// Session: type session_ended, the hash of a sign-in session that
	// ended (sessionHash); its sockets close. Never sent to a tab.
	Session string `json:"session,omitempty"`
	// Agent: type agent_changed, an agent an admin changed (disabled,
	// removed, a new password, a token revoked): their sockets check
	// their session or token again, and close when it ended. Type
	// teams_changed (no field): a team's settings changed. Neither is
	// sent to a tab.
	Agent string `json:"agent,omitempty"`
	// PreviousKnown: the conversations named in Conversation.Previous
	// (id, team and assignee only), looked up once by the publisher so
	// that each agent's socket keeps only the ids it may see
	// (access.PreviousIDs) without a round trip. Never sent to a tab.
	PreviousKnown []*handoff.Conversation `json:"previous_known,omitempty"`
}

func (s *Service) PublishInbox(ctx context.Context, ev InboxEvent) {
	s.publishInbox(ctx, ev, nil, false)
}

// publishInbox is PublishInbox with the conversation's previous ones
// already looked up (known, when read) or not.
func (s *Service) publishInbox(ctx context.Context, ev InboxEvent, known []*handoff.Conversation, read bool) {
	if ev.Conversation != nil && len(ev.Conversation.Previous) > 0 {
		if !read {
			var err error
			known, err = s.PreviousKnown(ctx, ev.Conversation)
			if err != nil {
				// The sockets then drop every previous id: what cannot
				// be checked is not shown.
				s.log.Warn("inbox event: looking up the previous conversations", "conversation", ev.Conversation.ID, "err", err)
			}
		}
		ev.PreviousKnown = known
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return
	}
	if err := s.cfg.Publisher.Publish(ctx, s.inbox.InboxChannel(), string(b)); err != nil {
		s.log.Warn("publishing inbox event", "err", err)
	}
}

func (s *Service) PublishConversation(ctx context.Context, c *handoff.Conversation) {
	if c != nil {
		s.PublishInbox(ctx, InboxEvent{Type: "conversation", Conversation: c})
	}
}

// Queue puts a handed-off conversation in its team's queue, with what the
// bot learnt of the visitor and its last message, tells the team's agents,
// and routes it when the team routes automatically.
func (s *Service) Queue(ctx context.Context, conv, card string, h engine.HandoffRequest, vis handoff.Visitor, last *handoff.Last) (*handoff.Conversation, error) {
	q, err := s.enqueue(ctx, conv, card, h, vis, last, nil)
	if err != nil {
		return nil, err
	}
	return q.announce(ctx), nil
}

// queued is a conversation put in its team's queue whose agents are not
// told yet.
type queued struct {
	s   *Service
	c   *handoff.Conversation
	cfg handoff.TeamConfig
	// asked are the earlier conversations read with the queue
	// (Handoff.Previous; nil: none).
	asked []string
}

// enqueue is the part of Queue the visitor's answer waits for: the chat in
// its team's queue (one round trip on Redis), with timers, the turn's
// timers to set in the same step (only when the inbox sets them in
// s.timers: handoffTimers), and the records of the earlier conversations
// this process saw the chat start with (for announce's notice).
func (s *Service) enqueue(ctx context.Context, conv, card string, h engine.HandoffRequest, vis handoff.Visitor, last *handoff.Last, timers []store.Timer) (queued, error) {
	return s.enqueueWith(ctx, conv, card, h, vis, last, timers, nil)
}

// enqueueWith is enqueue after a turn that read with its write what pre
// holds (nil: nothing): when it read the inbox record and the earlier
// chats (askNoticeReads), the new-chat notice is built before the step
// and goes out in it (store.HandoffNotice), where the inbox can.
func (s *Service) enqueueWith(ctx context.Context, conv, card string, h engine.HandoffRequest, vis handoff.Visitor, last *handoff.Last, timers []store.Timer, pre *store.TurnReads) (queued, error) {
	ho := handoff.Handoff{Team: h.Team, Priority: h.Priority, Card: card, Visitor: vis, Last: last, Timers: timers, Previous: s.prevMemo.get(conv)}
	if pre != nil && pre.Read && pre.InboxFields != nil && slices.Equal(pre.Previous, ho.Previous) && len(pre.PreviousFields) == len(ho.Previous) {
		asked := ho.Previous
		ho.Notice = &store.HandoffNotice{Channel: s.inbox.InboxChannel(), Before: pre.InboxFields, Previous: pre.PreviousFields,
			Build: func(c *handoff.Conversation) (string, error) {
				ev, known, read := newChatEvent(c, asked)
				if len(c.Previous) > 0 {
					if !read {
						return "", errors.New("the earlier chats were not read")
					}
					ev.PreviousKnown = known
				}
				b, err := json.Marshal(ev)
				return string(b), err
			}}
	}
	c, cfg, err := s.inbox.HandOff(ctx, conv, ho)
	if err != nil {
		s.log.Error("queueing conversation", "conversation", conv, "team", h.Team, "err", err)
		return queued{}, err
	}
	return queued{s, c, cfg, ho.Previous}, nil
}

// announce is the rest of Queue, which the visitor's answer need not wait
// for: the team's agents told, the chat routed. It returns the chat as
// queued.
func (q queued) announce(ctx context.Context) *handoff.Conversation {
	s, c := q.s, q.c
	if !c.NoticeSent { // sent in the queue's step
		ev, known, read := newChatEvent(c, q.asked)
		s.publishInbox(ctx, ev, known, read)
	}
	pos := c.QueuePosition
	s.routeUnder(ctx, c, q.cfg)
	c.QueuePosition = pos
	return c
}

// newChatEvent is the new-chat notice of conversation c, queued, with the
// earlier conversations read with the queue when they are the ones the
// record names (read; otherwise publishInbox reads them). asked are the
// ids HandOff was asked to read (Handoff.Previous).
func newChatEvent(c *handoff.Conversation, asked []string) (ev InboxEvent, known []*handoff.Conversation, read bool) {
	who := visitorWho(c)
	read = len(asked) > 0 && c.PreviousRead != nil && slices.Equal(asked, c.Previous)
	if read {
		known = knownOf(c.PreviousRead)
	}
	return InboxEvent{Type: "notify", Kind: "new_chat", Conversation: c, Title: "New chat from " + who + " — " + teamTitle(c.Team), Text: who + " is waiting for " + c.Team}, known, read
}

// askNoticeReads asks, for a turn that hands off where the inbox can
// publish the new-chat notice in the queue's step, the conversation's
// inbox record and its earlier chats' with the turn: the notice is then
// built before the step (enqueueWith).
func (s *Service) askNoticeReads(r *store.TurnReads, conv string, effs []engine.Effect) {
	if r == nil || !slices.ContainsFunc(effs, func(e engine.Effect) bool { return e.Kind == engine.EffectHandoff }) || !s.inbox.PublishesNoticesOn(s.cfg.Publisher) {
		return
	}
	r.Inbox, r.Previous = true, s.prevMemo.get(conv)
}

// Route gives a queued conversation to an agent under the team's routing;
// with manual routing, or nobody with room, it stays in the queue.
func (s *Service) Route(ctx context.Context, c *handoff.Conversation) {
	cfg, err := s.inbox.TeamConfigOf(ctx, c.Team)
	if err != nil {
		s.log.Error("routing", "conversation", c.ID, "err", err)
		return
	}
	s.routeUnder(ctx, c, cfg)
}

// routeUnder is route with the team's routing already read.
func (s *Service) routeUnder(ctx context.Context, c *handoff.Conversation, cfg handoff.TeamConfig) {
	a, err := s.inbox.PickAgentUnder(ctx, c.Team, cfg)
	if err != nil {
		s.log.Error("routing", "conversation", c.ID, "err", err)
		return
	}
	if a == nil {
		return
	}
	if _, err := s.Assign(ctx, c.ID, nil, a, true); err != nil && !errors.Is(err, handoff.ErrTaken) {
		s.log.Error("auto-assigning", "conversation", c.ID, "agent", a.ID, "err", err)
	}
}

// Assign gives conversation conv to agent to, by agent by (nil when the
// team's routing chose); the bot stops and the visitor sees "NAME joined".
func (s *Service) Assign(ctx context.Context, conv string, by, to *handoff.Agent, claim bool) (*handoff.Conversation, error) {
	c, prev, err := s.inbox.AssignBy(ctx, conv, by, to, claim)
	if err != nil {
		return nil, err
	}
	if prev == "" && c.QueuedAt != nil {
		s.m.QueueWait(c.Team, s.now().Sub(*c.QueuedAt))
	}
	if prev != to.ID {
		var pre []store.Entry
		if prev != "" {
			// Reassigned: the visitor sees who left before who joined.
			if was, err := s.inbox.Agent(ctx, prev); err == nil {
				pre = append(pre, store.Entry{From: "system", Kind: "left", Author: was.Name, At: s.now().UTC()})
			}
		}
		joined := store.Entry{From: "system", Kind: "joined", Author: to.Name, At: s.now().UTC()}
		ev := engine.Event{Kind: engine.EventAgentJoined, Agent: to.Name}
		if _, _, err := s.TurnWith(ctx, conv, "", ev, append(pre, joined)); err != nil {
			return nil, err
		}
		switch {
		case by == nil:
			s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "assigned", To: to.ID, Conversation: c, Title: "New chat from " + visitorWho(c) + " — " + teamTitle(c.Team), Text: "A chat of " + c.Team + " was routed to you"})
		case by.ID != to.ID: // taking a chat yourself needs no notification
			s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "assigned", To: to.ID, Conversation: c, Title: "Chat transferred to you", Text: by.Name + " gave you the chat with " + visitorWho(c)})
		}
	}
	s.PublishConversation(ctx, c)
	return c, nil
}

// live reports whether a session is with the agents: queued or taken.
func live(st engine.Status) bool { return st == engine.StatusHandoff || st == engine.StatusAgent }

// missedBy reports whether a turn ends a queued chat's wait with nobody
// having taken it: the handoff's timer ran out (or the visitor chose to
// leave a message instead, which fires it early).
func missedBy(info TurnInfo) bool {
	return info.Event == engine.EventTimer && info.Before == engine.StatusHandoff && !live(info.Status)
}

// afterTurn keeps the inbox record of a live chat in step with the
// session: the chat missed when nobody accepted in time, the bot took
// over again, the latest message for the lists, a snoozed chat reopened
// by the visitor's reply. It reports whether durable work failed (marking
// the chat missed): the turn's pending mark then stays for the sweep.
func (s *Service) afterTurn(ctx context.Context, conv string, info TurnInfo, entries []store.Entry) (failed bool) {
	if !live(info.Before) {
		// Either the bot is still talking, or this turn handed the chat
		// off and queue recorded it, last message included.
		return false
	}
	if missedBy(info) {
		return s.missed(ctx, conv, entries) != nil
	}
	if info.Before == engine.StatusHandoff && !live(info.Status) {
		c, err := s.inbox.ToBot(ctx, conv, "")
		if err == nil {
			s.PublishConversation(ctx, c)
		}
		return false
	}
	var last *store.Entry
	visitorWrote := false
	for i := range entries {
		if entries[i].Kind == "message" {
			last = &entries[i]
			visitorWrote = visitorWrote || entries[i].From == "visitor"
		}
	}
	if last == nil {
		return false
	}
	c, err := s.inbox.Conversation(ctx, conv)
	if err != nil {
		return false
	}
	if visitorWrote && c.Status == handoff.StatusSnoozed && c.UntilReply {
		if nc, changed, err := s.inbox.Unsnooze(ctx, conv); err == nil && changed {
			c = nc
			s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "reopened", To: c.Assignee, Conversation: c, Title: visitorWho(c) + " replied", Text: "The snoozed chat is open again"})
		}
	}
	if err := s.inbox.Touch(ctx, c, handoff.Last{From: last.From, Text: truncate(last.Text, 200), At: last.At}); err != nil {
		s.log.Warn("updating inbox", "conversation", conv, "err", err)
		return false
	}
	s.PublishConversation(ctx, c)
	return false
}

// missed moves a chat nobody took to its team's Missed folder and tells
// the team's agents who were online then (notify kind "missed"). The
// records the bot's offline path created stay with the conversation.
// Entries are the turn's; its "missed" entry says whether the visitor
// chose to leave a message. An error is logged and returned: the turn's
// pending mark then stays, and the sweep calls missed again (redoMissed).
func (s *Service) missed(ctx context.Context, conv string, entries []store.Entry) error {
	c, online, err := s.inbox.Miss(ctx, conv)
	if err != nil {
		s.log.Warn("marking a chat missed (the sweep does it later)", "conversation", conv, "err", err)
		return err
	}
	s.m.Missed(c.Team)
	s.PublishConversation(ctx, c)
	who := visitorWho(c)
	text := who + " waited for " + c.Team + " and nobody took the chat in time"
	for _, e := range entries {
		if left, _ := e.Data["left_message"].(bool); e.Kind == "missed" && left {
			text = who + " stopped waiting for " + c.Team + " and left a message instead"
		}
	}
	for _, id := range online {
		s.PublishInbox(ctx, InboxEvent{Type: "notify", Kind: "missed", To: id, Conversation: c, Title: "Missed chat from " + who + " — " + teamTitle(c.Team), Text: text})
	}
	return nil
}

// CollectedVisitor is what the inbox should show of the visitor: what the
// widget said, completed by what the bot collected (the first email var,
// a var called name).
func CollectedVisitor(p *engine.Program, sess *engine.Session) handoff.Visitor {
	if sess == nil {
		return handoff.Visitor{}
	}
	v := handoff.Visitor{ID: sess.Visitor.ID, Name: sess.Visitor.Name, Email: sess.Visitor.Email, Page: sess.Visitor.Page}
	for _, d := range p.Vars {
		val, _ := sess.Vars[d.Name].(string)
		switch {
		case val == "":
		case v.Email == "" && d.Type == engine.TypeEmail:
			v.Email = val
		case v.Name == "" && d.Name == "name":
			v.Name = val
		}
	}
	return v
}

// StartInbox records a new conversation for the inbox and emits
// conversation.started. An error is logged and returned: the start's
// pending mark then stays for the sweep to finish (redoWork).
func (s *Service) StartInbox(ctx context.Context, sess *engine.Session, prog *engine.Program, previous []string, team string) error {
	nc, err := s.inbox.Start(ctx, startRecord(sess, prog, previous, team))
	if err != nil {
		s.log.Warn("recording conversation for the inbox (the sweep does it later)", "conversation", sess.ID, "err", err)
		return err
	}
	return s.started(ctx, nc)
}

// startRecord is a new conversation's inbox record, before
// handoff.Store.Start (or Record) completes it.
func startRecord(sess *engine.Session, prog *engine.Program, previous []string, team string) handoff.Conversation {
	return handoff.Conversation{
		ID: sess.ID, Playbook: prog.ID, Team: team,
		Visitor:  handoff.Visitor{ID: sess.Visitor.ID, Name: sess.Visitor.Name, Email: sess.Visitor.Email, Page: sess.Visitor.Page},
		Previous: previous,
	}
}

// started is what follows a new conversation's inbox record once it is
// written: its earlier conversations remembered, conversation.started
// emitted. An error is logged and returned (the start's mark, if any,
// stays for the sweep).
func (s *Service) started(ctx context.Context, nc *handoff.Conversation) error {
	s.prevMemo.put(nc.ID, nc.Previous)
	if err := s.EmitStarted(ctx, nc); err != nil {
		s.log.Warn("webhook outbox: adding an event (the sweep adds it later)", "type", crm.EventConversationStarted, "conversation", nc.ID, "err", err)
		return err
	}
	return nil
}

// LastMessage is the latest message among entries, for the inbox's lists;
// nil when there is none.
func LastMessage(entries []store.Entry) *handoff.Last {
	for i := len(entries) - 1; i >= 0; i-- {
		if e := entries[i]; e.Kind == "message" {
			return &handoff.Last{From: e.From, Text: truncate(e.Text, 200), At: e.At}
		}
	}
	return nil
}
