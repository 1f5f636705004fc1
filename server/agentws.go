package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"github.com/playbook-dev/playbook/store"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/handoff"
)

// agentConn is one inbox tab's live feed. Access is checked again on every
// change: an inbox event that moves the followed conversation out of the
// agent's reach stops the follow (a "revoked" frame); the end of the
// sign-in session (logout, on any process) closes the socket; and every
// heartbeat reloads the agent and its session and checks the followed
// conversation again.
type agentConn struct {
	s          *Server
	ws         *websocket.Conn
	send       chan []byte
	done       chan struct{}
	session    string // the sign-in session's token hash; "" for an API token
	sessionTok string // the sign-in session's token, for the heartbeat's check
	apiTok     string // the API token, for the heartbeat's check; "" for a session

	mu       sync.Mutex
	agent    *handoff.Agent
	follow   string   // the conversation open in the view
	lastSent streamID // its newest entry sent
	closed   bool
}

// me returns the agent as last loaded.
func (ac *agentConn) me() *handoff.Agent {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.agent
}

// sessionHash is how a sign-in session is named on the inbox channel (never
// the token itself).
func sessionHash(token string) string {
	h := sha256.Sum256([]byte("pb-session:" + token))
	return hex.EncodeToString(h[:])
}

// wsSignedOut is the close code of an agent feed whose session ended.
const wsSignedOut websocket.StatusCode = 4001

func (s *Server) handleAgentWS(c *echo.Context) error {
	a := agentOf(c)
	ws, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		return nil
	}
	ws.SetReadLimit(64 << 10)
	ac := &agentConn{s: s, agent: a, ws: ws, send: make(chan []byte, 256), done: make(chan struct{})}
	if tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer "); ok {
		ac.apiTok = tok
	} else if ck, err := c.Cookie(sessionCookie); err == nil {
		ac.session = sessionHash(ck.Value)
		ac.sessionTok = ck.Value
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	if err := s.hub.attach(ctx, s.inbox.InboxChannel(), ac); err != nil {
		ws.Close(websocket.StatusInternalError, "store unavailable")
		return nil
	}
	defer ac.close()
	_ = s.inbox.Heartbeat(ctx, a)
	go ac.writeLoop(ctx, cancel)
	ac.push(&protocol.Hello{Agent: conversation.WireAgent(a)})
	ac.readLoop(ctx)
	return nil
}

func (ac *agentConn) close() {
	ac.mu.Lock()
	if ac.closed {
		ac.mu.Unlock()
		return
	}
	ac.closed = true
	follow := ac.follow
	close(ac.done)
	ac.mu.Unlock()
	ac.s.hub.detach(ac.s.inbox.InboxChannel(), ac)
	if follow != "" {
		ac.s.hub.detach(ac.s.store.Channel(follow), ac)
	}
	ac.ws.CloseNow()
}

func (ac *agentConn) writeLoop(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ac.done:
			return
		case b := <-ac.send:
			wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
			err := ac.ws.Write(wctx, websocket.MessageText, b)
			wcancel()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(ctx, writeTimeout)
			err := ac.ws.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		}
	}
}

func (ac *agentConn) push(frame protocol.Frame) {
	b, err := protocol.Encode(frame)
	if err != nil {
		ac.s.log.Error("encoding an agent frame", "err", err)
		return
	}
	ac.pushRaw(b)
}

func (ac *agentConn) pushRaw(b []byte) {
	select {
	case ac.send <- b:
	case <-ac.done:
	default:
		go ac.ws.Close(websocket.StatusPolicyViolation, "too slow")
	}
}

func (ac *agentConn) readLoop(ctx context.Context) {
	for {
		_, data, err := ac.ws.Read(ctx)
		if err != nil {
			return
		}
		f, fe := protocol.DecodeAgent(data)
		if fe != nil {
			ac.push(fe)
			continue
		}
		switch f := f.(type) {
		case *protocol.Heartbeat:
			if !ac.recheck(ctx) {
				continue // closing: the read returns when the close handshake ends
			}
			if err := ac.s.inbox.Heartbeat(ctx, ac.me()); err != nil {
				ac.s.log.Warn("heartbeat", "agent", ac.me().ID, "err", err)
			}
		case *protocol.Ping:
			ac.push(&protocol.Pong{})
		case *protocol.Follow:
			ac.followConversation(ctx, f.Conversation, f.After)
		case *protocol.AgentTypingOn:
			ac.typing(ctx, f.Conversation, f.On)
		}
	}
}

func (ac *agentConn) typing(ctx context.Context, conv string, on bool) {
	c, err := ac.s.inbox.Conversation(ctx, conv)
	if err != nil || !access.CanSee(ac.me(), c) {
		return
	}
	ac.s.publishSignal(ctx, conv, signal{Type: "typing", From: "agent", Author: ac.me().Name, On: on})
}

// recheck reloads the agent (its teams and role may have changed) and checks
// its session still stands, then the followed conversation. It reports
// false, having started closing the socket, when the agent is signed out.
func (ac *agentConn) recheck(ctx context.Context) bool {
	var a *handoff.Agent
	var err error
	switch {
	case ac.apiTok != "":
		a, err = ac.s.inbox.AgentByAPIToken(ctx, ac.apiTok)
	case ac.sessionTok != "":
		var sess *handoff.Session
		if sess, err = ac.s.inbox.SessionByToken(ctx, ac.sessionTok); err == nil {
			a = sess.Agent
		}
	default:
		return true
	}
	if errors.Is(err, handoff.ErrNotFound) {
		ac.signedOut()
		return false
	}
	if err != nil {
		return true // the store did not answer: keep what we have
	}
	ac.mu.Lock()
	ac.agent = a
	follow := ac.follow
	ac.mu.Unlock()
	if follow != "" {
		if c, err := ac.s.inbox.Conversation(ctx, follow); err == nil || errors.Is(err, handoff.ErrNotFound) {
			ac.checkFollowed(c)
		}
	}
	return true
}

// signedOut closes the socket of an agent whose session ended (code 4001),
// in the background: the close handshake needs the read loop.
func (ac *agentConn) signedOut() {
	go func() {
		_ = ac.ws.Close(wsSignedOut, "signed out")
		ac.close()
	}()
}

// checkFollowed stops following c (nil: gone) when the agent may no longer
// see it, and tells the tab with a "revoked" frame.
func (ac *agentConn) checkFollowed(c *handoff.Conversation) {
	ac.mu.Lock()
	conv := ac.follow
	if conv == "" || c != nil && c.ID != conv || access.CanSee(ac.agent, c) || ac.closed {
		ac.mu.Unlock()
		return
	}
	ac.follow = ""
	ac.lastSent = streamID{}
	ac.mu.Unlock()
	go ac.s.hub.detach(ac.s.store.Channel(conv), ac) // not on the hub's goroutine: detach talks to Redis
	ac.push(&protocol.Revoked{Conversation: conv, Message: "you can no longer see this conversation"})
}

// followConversation streams one conversation's entries to the tab: those
// after `after`, then live ones.
func (ac *agentConn) followConversation(ctx context.Context, conv, after string) {
	c, err := ac.s.inbox.Conversation(ctx, conv)
	if err != nil || !access.CanSee(ac.me(), c) {
		ac.push(&protocol.AgentError{Code: protocol.CodeForbidden, Message: "you cannot see this conversation"})
		return
	}
	ac.mu.Lock()
	old := ac.follow
	ac.follow = conv
	ac.lastSent = parseStreamID(after)
	ac.mu.Unlock()
	if old != "" && old != conv {
		ac.s.hub.detach(ac.s.store.Channel(old), ac)
	}
	if err := ac.s.hub.attach(ctx, ac.s.store.Channel(conv), ac); err != nil {
		return
	}
	entries, err := ac.s.store.Transcript(ctx, conv, after, 0)
	if err == nil {
		ac.deliver(conv, entries)
	}
}

func (ac *agentConn) deliver(conv string, entries []store.Entry) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if conv != ac.follow {
		return
	}
	for i := range entries {
		id := parseStreamID(entries[i].ID)
		if !ac.lastSent.less(id) {
			continue
		}
		ac.lastSent = id
		ac.push(&protocol.AgentEntry{Conversation: conv, Entry: conversation.WireEntry(entries[i])})
	}
}

// resync catches up after the live updates were cut (hub): the tab
// reloads its lists, and the followed conversation's missed entries are
// sent.
func (ac *agentConn) resync(ch string) {
	if ch == ac.s.inbox.InboxChannel() {
		ac.push(&protocol.Resync{})
		return
	}
	conv := conversationOf(ch)
	ac.mu.Lock()
	after := ac.lastSent.String()
	following := ac.follow == conv
	ac.mu.Unlock()
	if !following {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if entries, err := ac.s.store.Transcript(ctx, conv, after, 0); err == nil {
		ac.deliver(conv, entries)
	}
}

// receive gets inbox events and the followed conversation's entries.
func (ac *agentConn) receive(ch, payload string) {
	if ch == ac.s.inbox.InboxChannel() {
		var ev conversation.InboxEvent
		if json.Unmarshal([]byte(payload), &ev) != nil {
			return
		}
		if ev.Type == "session_ended" {
			if ac.session != "" && ev.Session == ac.session {
				ac.signedOut()
			}
			return
		}
		me := ac.me()
		if ev.To != "" && ev.To != me.ID {
			return
		}
		if ev.Conversation != nil {
			// A change may take the followed conversation out of reach
			// (a transfer to another team, a reassignment).
			ac.checkFollowed(ev.Conversation)
		}
		// Without a conversation only a notice addressed to this agent
		// (a CRM note for the owner) goes through.
		if ev.Conversation == nil && ev.To == "" || ev.Conversation != nil && !access.CanSee(me, ev.Conversation) {
			return
		}
		if ev.Conversation != nil && len(ev.Conversation.Previous) > 0 {
			ev.Conversation.Previous = access.PreviousIDs(me, ev.Conversation.Previous, ev.PreviousKnown)
		}
		ac.push(inboxFrame(ev))
		return
	}
	conv := conversationOf(ch)
	if strings.HasPrefix(payload, "!") {
		var sig signal
		if json.Unmarshal([]byte(payload[1:]), &sig) == nil && sig.Type == "typing" && !(sig.From == "agent" && sig.Author == ac.me().Name) {
			ac.push(&protocol.AgentTyping{Conversation: conv, From: sig.From, Author: sig.Author, On: sig.On})
		}
		return
	}
	entries, err := store.DecodeLive(payload)
	if err == nil {
		ac.deliver(conv, entries)
	}
}

// inboxFrame is the frame an inbox event becomes on an agent's feed:
// conversation or notify.
func inboxFrame(ev conversation.InboxEvent) protocol.Frame {
	if ev.Type == protocol.TypeConversation && ev.Kind == "" && ev.Text == "" && ev.Record == nil && ev.Person == nil {
		return &protocol.ConversationChanged{Conversation: conversation.WireConversation(ev.Conversation)}
	}
	n := &protocol.Notify{Kind: ev.Kind, Text: ev.Text, Conversation: conversation.WireConversation(ev.Conversation), Record: conversation.WireRecord(ev.Record), Person: conversation.WireRecord(ev.Person)}
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
