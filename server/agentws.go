package server

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/engine/redisstore"
	"github.com/playbook-dev/playbook/handoff"
)

// agentConn is one inbox tab's live feed.
type agentConn struct {
	s     *Server
	agent *handoff.Agent
	ws    *websocket.Conn
	send  chan []byte
	done  chan struct{}

	mu       sync.Mutex
	follow   string   // the conversation open in the view
	lastSent streamID // its newest entry sent
	closed   bool
}

func (s *Server) handleAgentWS(c *echo.Context) error {
	a := agentOf(c)
	ws, err := websocket.Accept(c.Response(), c.Request(), &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		return nil
	}
	ws.SetReadLimit(64 << 10)
	ac := &agentConn{s: s, agent: a, ws: ws, send: make(chan []byte, 256), done: make(chan struct{})}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	if err := s.hub.attach(ctx, s.inbox.InboxChannel(), ac); err != nil {
		ws.Close(websocket.StatusInternalError, "store unavailable")
		return nil
	}
	defer ac.close()
	_ = s.inbox.Heartbeat(ctx, a)
	go ac.writeLoop(ctx, cancel)
	ac.push(map[string]any{"type": "hello", "agent": a})
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

func (ac *agentConn) push(frame any) {
	b, err := json.Marshal(frame)
	if err != nil {
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

type agentFrame struct {
	Type         string `json:"type"`
	Conversation string `json:"conversation"`
	After        string `json:"after"`
	On           bool   `json:"on"`
}

func (ac *agentConn) readLoop(ctx context.Context) {
	for {
		_, data, err := ac.ws.Read(ctx)
		if err != nil {
			return
		}
		var f agentFrame
		if err := json.Unmarshal(data, &f); err != nil {
			ac.push(map[string]any{"type": "error", "code": "bad_json", "message": "frame is not a JSON object"})
			continue
		}
		switch f.Type {
		case "heartbeat":
			if err := ac.s.inbox.Heartbeat(ctx, ac.agent); err != nil {
				ac.s.log.Warn("heartbeat", "agent", ac.agent.ID, "err", err)
			}
		case "ping":
			ac.push(map[string]string{"type": "pong"})
		case "follow":
			ac.followConversation(ctx, f.Conversation, f.After)
		case "typing":
			ac.typing(ctx, f.Conversation, f.On)
		default:
			ac.push(map[string]any{"type": "error", "code": "unknown_type", "message": "unknown frame type"})
		}
	}
}

func (ac *agentConn) typing(ctx context.Context, conv string, on bool) {
	c, err := ac.s.inbox.Conversation(ctx, conv)
	if err != nil || !access.CanSee(ac.agent, c) {
		return
	}
	ac.s.publishSignal(ctx, conv, signal{Type: "typing", From: "agent", Author: ac.agent.Name, On: on})
}

// followConversation streams one conversation's entries to the tab: those
// after `after`, then live ones.
func (ac *agentConn) followConversation(ctx context.Context, conv, after string) {
	c, err := ac.s.inbox.Conversation(ctx, conv)
	if err != nil || !access.CanSee(ac.agent, c) {
		ac.push(map[string]any{"type": "error", "code": "forbidden", "message": "you cannot see this conversation"})
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

func (ac *agentConn) deliver(conv string, entries []redisstore.Entry) {
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
		ac.push(map[string]any{"type": "entry", "conversation": conv, "entry": entries[i]})
	}
}

// resync catches up after the live updates were cut (hub): the tab
// reloads its lists, and the followed conversation's missed entries are
// sent.
func (ac *agentConn) resync(ch string) {
	if ch == ac.s.inbox.InboxChannel() {
		ac.push(map[string]any{"type": "resync"})
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
		var ev inboxEvent
		if json.Unmarshal([]byte(payload), &ev) != nil {
			return
		}
		if ev.To != "" && ev.To != ac.agent.ID {
			return
		}
		// Without a conversation only a notice addressed to this agent
		// (a CRM note for the owner) goes through.
		if ev.Conversation == nil && ev.To == "" || ev.Conversation != nil && !access.CanSee(ac.agent, ev.Conversation) {
			return
		}
		ev.To = ""
		ac.push(ev)
		return
	}
	conv := conversationOf(ch)
	if strings.HasPrefix(payload, "!") {
		var sig signal
		if json.Unmarshal([]byte(payload[1:]), &sig) == nil && sig.Type == "typing" && !(sig.From == "agent" && sig.Author == ac.agent.Name) {
			ac.push(map[string]any{"type": "typing", "conversation": conv, "from": sig.From, "author": sig.Author, "on": sig.On})
		}
		return
	}
	entries, err := redisstore.DecodeLive(payload)
	if err == nil {
		ac.deliver(conv, entries)
	}
}
