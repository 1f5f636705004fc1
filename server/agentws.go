package server

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
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
	// available: the agent chose online (read after attaching, then
	// kept from presence events); new-chat notices ring only then.
	available atomic.Bool

	mu       sync.Mutex
	agent    *conversation.Agent
	follow   string           // the conversation open in the view
	lastSent protocol.EntryID // its newest entry sent
	closed   bool
}

// me returns the agent as last loaded.
func (ac *agentConn) me() *conversation.Agent {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	return ac.agent
}

// wsSignedOut is the close code of an agent feed whose session ended.
const wsSignedOut websocket.StatusCode = 4001

func (s *Server) handleAgentWS(c *echo.Context) error {
	a := agentOf(c)
	if s.conns.isDraining() {
		return s.refuseDraining()
	}
	ws, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		return nil
	}
	ws.SetReadLimit(64 << 10)
	defer s.app.Metrics().SocketOpened("agent")()
	ac := &agentConn{s: s, agent: a, ws: ws, send: make(chan []byte, 256), done: make(chan struct{})}
	if tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer "); ok {
		ac.apiTok = tok
	} else if ck, err := c.Cookie(sessionCookie); err == nil {
		ac.session = conversation.SessionHash(ck.Value)
		ac.sessionTok = ck.Value
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	if err := s.hub.Attach(ctx, s.svc.InboxChannel(), ac); err != nil {
		ws.Close(websocket.StatusInternalError, "store unavailable")
		return nil
	}
	defer ac.close()
	if !s.conns.addAgent(ac) { // the drain began meanwhile
		_ = ws.Close(closeRestart, restartReason)
		return nil
	}
	defer s.conns.removeAgent(ac)
	_ = s.svc.Heartbeat(ctx, a)
	if on, err := s.svc.Available(ctx, a); err == nil {
		ac.available.Store(on)
	} else {
		ac.available.Store(true) // unknown: a toast too many rather than a chat unseen
	}
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
	ac.s.hub.Detach(ac.s.svc.InboxChannel(), ac)
	if follow != "" {
		ac.s.hub.Detach(ac.s.svc.Channel(follow), ac)
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
			if err := ac.s.svc.Heartbeat(ctx, ac.me()); err != nil {
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
	if ok, err := ac.s.svc.MaySee(ctx, ac.me(), conv); err != nil || !ok {
		return
	}
	ac.s.svc.PublishSignal(ctx, conv, conversation.Signal{Type: "typing", From: "agent", Author: ac.me().Name, On: on})
}

// recheck reloads the agent (its teams and role may have changed) and checks
// its session still stands, then the followed conversation. It reports
// false, having started closing the socket, when the agent is signed out.
func (ac *agentConn) recheck(ctx context.Context) bool {
	var a *conversation.Agent
	var err error
	switch {
	case ac.apiTok != "":
		a, err = ac.s.svc.AgentByAPIToken(ctx, ac.apiTok)
	case ac.sessionTok != "":
		var sess *conversation.AgentSession
		if sess, err = ac.s.svc.Session(ctx, ac.sessionTok); err == nil {
			a = sess.Agent
		}
	default:
		return true
	}
	if errors.Is(err, conversation.ErrSignedOut) {
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
		if visible, err := ac.s.svc.MaySee(ctx, a, follow); err == nil {
			ac.checkFollowed(follow, visible)
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

// checkFollowed stops following conversation conv when the agent may no
// longer see it (visible false, as the service decided), and tells the tab
// with a "revoked" frame.
func (ac *agentConn) checkFollowed(conv string, visible bool) {
	ac.mu.Lock()
	if conv == "" || conv != ac.follow || visible || ac.closed {
		ac.mu.Unlock()
		return
	}
	ac.follow = ""
	ac.lastSent = protocol.EntryID{}
	ac.mu.Unlock()
	go ac.s.hub.Detach(ac.s.svc.Channel(conv), ac) // not on the hub's goroutine: detach talks to Redis
	ac.push(&protocol.Revoked{Conversation: conv, Message: "you can no longer see this conversation"})
}

// followConversation streams one conversation's entries to the tab: those
// after `after`, then live ones.
func (ac *agentConn) followConversation(ctx context.Context, conv, after string) {
	if ok, err := ac.s.svc.MaySee(ctx, ac.me(), conv); err != nil || !ok {
		ac.push(&protocol.AgentError{Code: protocol.CodeForbidden, Message: "you cannot see this conversation"})
		return
	}
	ac.mu.Lock()
	old := ac.follow
	ac.follow = conv
	ac.lastSent = protocol.ParseEntryID(after)
	ac.mu.Unlock()
	if old != "" && old != conv {
		ac.s.hub.Detach(ac.s.svc.Channel(old), ac)
	}
	if err := ac.s.hub.Attach(ctx, ac.s.svc.Channel(conv), ac); err != nil {
		return
	}
	entries, err := ac.s.svc.FollowEntries(ctx, ac.me(), conv, after)
	if err == nil {
		ac.deliver(conv, entries)
	}
}

func (ac *agentConn) deliver(conv string, entries []protocol.Entry) {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	if conv != ac.follow {
		return
	}
	for i := range entries {
		id := protocol.ParseEntryID(entries[i].ID)
		if !ac.lastSent.Less(id) {
			continue
		}
		ac.lastSent = id
		ac.push(&protocol.AgentEntry{Conversation: conv, Entry: entries[i]})
	}
}

// Resync catches up after the live updates were cut (hub): the tab
// reloads its lists, and the followed conversation's missed entries are
// sent.
func (ac *agentConn) Resync(ch string) {
	if ch == ac.s.svc.InboxChannel() {
		ac.push(&protocol.Resync{})
		return
	}
	conv := conversation.ConversationOf(ch)
	ac.mu.Lock()
	after := ac.lastSent.String()
	following := ac.follow == conv
	ac.mu.Unlock()
	if !following {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if entries, err := ac.s.svc.FollowEntries(ctx, ac.me(), conv, after); err == nil {
		ac.deliver(conv, entries)
	}
}

// Receive gets inbox events and the followed conversation's entries.
func (ac *agentConn) Receive(ch, payload string) {
	if ch == ac.s.svc.InboxChannel() {
		fe, err := conversation.FeedEventFor(ac.me(), ac.available.Load(), payload)
		if err != nil {
			return
		}
		if fe.Presence != "" {
			ac.available.Store(fe.Presence == "online")
			return
		}
		if fe.EndedSession != "" {
			if ac.session != "" && fe.EndedSession == ac.session {
				ac.signedOut()
			}
			return
		}
		if fe.Recheck {
			// Off the hub's goroutine: the check reads the store.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				ac.recheck(ctx)
			}()
			return
		}
		if fe.About != "" {
			ac.checkFollowed(fe.About, fe.Visible)
		}
		if fe.Frame != nil {
			ac.push(fe.Frame)
		}
		return
	}
	conv := conversation.ConversationOf(ch)
	if strings.HasPrefix(payload, "!") {
		var sig conversation.Signal
		if json.Unmarshal([]byte(payload[1:]), &sig) == nil && sig.Type == "typing" && !(sig.From == "agent" && sig.Author == ac.me().Name) {
			ac.push(&protocol.AgentTyping{Conversation: conv, From: sig.From, Author: sig.Author, On: sig.On})
		}
		return
	}
	entries, err := conversation.LiveEntries(payload)
	if err == nil {
		ac.deliver(conv, entries)
	}
}
