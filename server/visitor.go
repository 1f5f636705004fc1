package server

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/playbook-dev/playbook/store"
	"log/slog"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v5"
	"golang.org/x/time/rate"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
)

// Visitor protocol limits (docs/protocol.md).
const (
	maxReadLimit = protocol.MaxReadLimit // larger frames close the connection (1009)
	maxText      = protocol.MaxText      // characters in a message
	sendBuffer   = protocol.SendBuffer   // frames queued for a slow client before it is dropped
	writeTimeout = 10 * time.Second
	pingEvery    = 30 * time.Second
	turnTimeout  = 15 * time.Second
)

// visitorConn is one visitor's websocket.
type visitorConn struct {
	s    *Server
	ws   *websocket.Conn
	ip   string
	out  *outbox   // frames to send; see cork.go
	cork *corkConn // the connection under ws
	lim  *rate.Limiter
	// mailLim bounds transcript frames apart from messages (each costs
	// store reads even when refused); the mails themselves are bounded by
	// package transcript's Quota.
	mailLim *rate.Limiter
	log     *slog.Logger

	mu       sync.Mutex
	conv     string
	lastSent streamID // the newest entry sent; older ones are not sent again
	// version is the session version whose entries, and every earlier
	// one's, this connection has sent (0: not known). A turn of its own
	// that finds another turn in between (another tab, an agent, a timer,
	// whose entries the hub may not have brought yet) catches up from the
	// transcript instead of sending only its own entries (deliverTurn).
	version  int64
	closed   bool
	agent    bool   // an agent joined the conversation: typing is relayed
	resolved bool   // an agent resolved it: the next message starts a new one
	queued   string // the conversation whose place in its team's queue is watched
	done     chan struct{}
}

func (s *Server) handleVisitorWS(c *echo.Context) error {
	r, w := c.Request(), c.Response()
	ip := c.RealIP()
	if !s.limits.connect(ip, s.now()) {
		return echo.NewHTTPError(429, "too many connections from your address; try again in a minute")
	}
	cw := &corkingWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		return nil // Accept has written the HTTP error (403 for a refused origin)
	}
	ws.SetReadLimit(maxReadLimit)
	v := &visitorConn{s: s, ws: ws, ip: ip, cork: cw.conn, lim: messageLimiter(), mailLim: messageLimiter(), log: s.log, done: make(chan struct{})}
	// The connection lives on in its own goroutine and this handler
	// returns: net/http's buffers, the request and this goroutine's deep
	// stack are let go, which is most of an idle widget's memory.
	ctx, cancel := context.WithCancel(context.WithoutCancel(r.Context()))
	v.out = newOutbox(func() { v.writeFrames(ctx, cancel) })
	go v.serve(ctx, cancel)
	return nil
}

// serve runs the connection until the visitor goes or a write fails.
func (v *visitorConn) serve(ctx context.Context, cancel context.CancelFunc) {
	defer cancel()
	defer v.close()
	defer func() {
		if p := recover(); p != nil {
			v.log.Error("visitor connection: panic", "panic", p, "stack", string(debug.Stack()))
		}
	}()
	ping := v.keepAlive(ctx, cancel)
	defer ping.Stop()
	v.readLoop(ctx)
}

func (v *visitorConn) close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	conv := v.conv
	close(v.done)
	v.mu.Unlock()
	if conv != "" {
		v.s.hub.detach(v.s.store.Channel(conv), v)
	}
	v.ws.CloseNow()
}

// writeFrames sends what the outbox holds until it is empty, each batch in
// one write. A write that fails ends the connection.
func (v *visitorConn) writeFrames(ctx context.Context, cancel context.CancelFunc) {
	for {
		frames := v.out.next()
		if frames == nil {
			return
		}
		wctx, wcancel := context.WithTimeout(ctx, writeTimeout)
		v.cork.cork()
		var err error
		for _, b := range frames {
			if err = v.ws.Write(wctx, websocket.MessageText, b); err != nil {
				break
			}
		}
		if uerr := v.cork.uncork(); err == nil {
			err = uerr
		}
		wcancel()
		if err != nil {
			cancel()
			return
		}
	}
}

// keepAlive pings the visitor every pingEvery; one that does not answer
// within writeTimeout is disconnected. Stop the timer it returns.
func (v *visitorConn) keepAlive(ctx context.Context, cancel context.CancelFunc) *time.Timer {
	var t *time.Timer
	var mu sync.Mutex
	mu.Lock()
	defer mu.Unlock()
	t = time.AfterFunc(pingEvery, func() {
		pctx, pcancel := context.WithTimeout(ctx, writeTimeout)
		err := v.ws.Ping(pctx)
		pcancel()
		if err != nil {
			cancel()
			return
		}
		mu.Lock()
		t.Reset(pingEvery)
		mu.Unlock()
	})
	return t
}

// push queues a frame; a client too slow to take it is disconnected (it
// resumes from its last entry and loses nothing).
func (v *visitorConn) push(frame protocol.Frame) {
	b, err := protocol.Encode(frame)
	if err != nil {
		v.log.Error("encoding frame", "err", err)
		return
	}
	select {
	case <-v.done:
		return
	default:
	}
	if !v.out.add(b) {
		v.log.Warn("visitor too slow; disconnecting", "conversation", v.conv)
		go v.ws.Close(websocket.StatusPolicyViolation, "too slow")
	}
}

func (v *visitorConn) fail(code protocol.Code, msg, id string) {
	v.push(&protocol.Error{Code: code, Message: msg, ID: id})
}

func (v *visitorConn) readLoop(ctx context.Context) {
	for {
		typ, data, err := v.ws.Read(ctx)
		if err != nil {
			return
		}
		f, fe := protocol.DecodeVisitor(typ == websocket.MessageText, data)
		if fe != nil {
			v.push(fe)
			continue
		}
		v.handle(ctx, f)
	}
}

func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "field " + te.Field + " has the wrong type"
	}
	return "cannot decode"
}

func (v *visitorConn) handle(ctx context.Context, f protocol.Frame) {
	v.out.hold() // the frames this one causes go out together
	defer v.out.release()
	switch f := f.(type) {
	case *protocol.Ping:
		v.push(&protocol.Pong{})
	case *protocol.Start:
		v.start(ctx, f)
	case *protocol.Resume:
		v.resume(ctx, f)
	case *protocol.Message:
		v.message(ctx, f.ID, f.Check, engine.Event{Kind: engine.EventText, Text: f.Text})
	case *protocol.Click:
		v.message(ctx, f.ID, f.Check, engine.Event{Kind: engine.EventButton, Button: f.Value})
	case *protocol.VisitorTyping:
		conv := v.conversation()
		if conv == "" {
			v.fail("no_conversation", "send start or resume first", "")
			return
		}
		v.mu.Lock()
		withAgent := v.agent && !v.resolved
		v.mu.Unlock()
		if withAgent {
			v.s.publishSignal(ctx, conv, signal{Type: "typing", From: "visitor", On: f.On})
		}
	case *protocol.Rating:
		v.rate(ctx, f)
	case *protocol.TranscriptRequest:
		v.transcript(ctx, f)
	case *protocol.LeaveMessage:
		v.leaveMessage(ctx, f)
	}
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

func (v *visitorConn) conversation() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.conv
}

// follow makes the connection follow conversation conv: it subscribes to
// its live entries, then catches up on anything stored after the last entry
// the client has, so nothing published in between is missed.
func (v *visitorConn) follow(ctx context.Context, conv, after string) error {
	if err := v.attach(ctx, conv, after); err != nil {
		return err
	}
	return v.catchUp(ctx, conv)
}

// setVersion records that the connection has sent every entry of session
// version n and the ones before.
func (v *visitorConn) setVersion(n int64) {
	v.mu.Lock()
	v.version = n
	v.mu.Unlock()
}

// deliverTurn sends the entries of a turn of the connection's own. When
// another turn came in between (its version is not the next one), that
// turn's entries may still be on their way through the hub, and would be
// dropped as older than these once these are sent: the connection then
// catches up from the transcript, which holds both, in order.
func (v *visitorConn) deliverTurn(ctx context.Context, conv string, res store.Result) {
	if res.Duplicate || res.Version == 0 {
		v.deliver(res.Entries)
		return
	}
	v.mu.Lock()
	next := v.version != 0 && res.Version == v.version+1
	v.mu.Unlock()
	if next {
		v.deliver(res.Entries)
		v.setVersion(res.Version)
		return
	}
	if err := v.catchUp(ctx, conv); err != nil {
		// The hub still brings the other turn's entries; only their
		// order may suffer.
		v.log.Warn("catching up after a concurrent turn", "conversation", conv, "err", err)
		v.deliver(res.Entries)
		return
	}
	v.setVersion(res.Version)
}

// catchUp sends the stored entries of conv after the last one sent. It
// reads them all before sending, so a message deleted later in the
// transcript goes out without its text (redactDeleted).
func (v *visitorConn) catchUp(ctx context.Context, conv string) error {
	after := v.lastID()
	var all []store.Entry
	for {
		entries, err := v.s.store.Transcript(ctx, conv, after, 500)
		if err != nil {
			return err
		}
		all = append(all, entries...)
		if len(entries) < 500 {
			break
		}
		after = entries[len(entries)-1].ID
	}
	v.deliver(all)
	return nil
}

// attach makes the connection follow conversation conv's live entries,
// those after the entry after, without catching up on stored ones.
func (v *visitorConn) attach(ctx context.Context, conv, after string) error {
	v.mu.Lock()
	old := v.conv
	v.conv = conv
	v.lastSent = parseStreamID(after)
	v.version = 0 // not known until the caller has sent what it read
	if old != conv {
		v.agent, v.resolved = false, false
	}
	v.mu.Unlock()
	if old != "" && old != conv {
		v.s.hub.detach(v.s.store.Channel(old), v)
	}
	return v.s.hub.attach(ctx, v.s.store.Channel(conv), v)
}

func (v *visitorConn) lastID() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastSent.String()
}

// receive handles what the hub brings from the conversation's channel.
func (v *visitorConn) receive(_ string, payload string) {
	if strings.HasPrefix(payload, "!") {
		var sig signal
		if json.Unmarshal([]byte(payload[1:]), &sig) == nil && sig.Type == "typing" && sig.From != "visitor" {
			v.push(&protocol.Typing{From: sig.From, On: sig.On})
		}
		return
	}
	if v.hasSent(lastLiveID(payload)) {
		return // the echo of a turn this connection delivered itself
	}
	entries, err := store.DecodeLive(payload)
	if err != nil {
		v.log.Warn("bad live message", "err", err)
		return
	}
	v.deliver(entries)
}

// resync catches up after the live updates were cut (hub).
func (v *visitorConn) resync(string) {
	conv := v.conversation()
	if conv == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.catchUp(ctx, conv); err != nil {
		v.log.Warn("catching up after a break in live updates", "conversation", conv, "err", err)
		return
	}
	v.out.flush()
}

// lastLiveID is the stream id of the last entry in a live payload (lines
// of "ID JSON"; JSON has no raw newlines).
func lastLiveID(payload string) string {
	line := payload[strings.LastIndexByte(payload, '\n')+1:]
	id, _, _ := strings.Cut(line, " ")
	return id
}

// hasSent reports whether the entry with stream id id was sent already.
func (v *visitorConn) hasSent(id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.lastSent.less(parseStreamID(id))
}

// deliver sends the entries newer than the last one sent, in order. It is
// called from the read loop (turn results) and the hub (other processes).
func (v *visitorConn) deliver(entries []store.Entry) {
	entries = redactDeleted(entries)
	v.mu.Lock()
	defer v.mu.Unlock()
	for i := range entries {
		id := parseStreamID(entries[i].ID)
		if !v.lastSent.less(id) {
			continue
		}
		v.lastSent = id
		switch entries[i].Kind {
		case "joined":
			v.agent = true
		case "resolved":
			v.resolved = true
		}
		if !visibleToVisitor(entries[i]) {
			continue
		}
		v.push(&protocol.EntryFrame{Entry: conversation.WireEntry(forVisitor(entries[i]))})
	}
}

// visibleToVisitor keeps internal entries (records, notes, the deletion of
// a note, the note that nobody took the chat in time, a team that was away)
// out of the widget.
func visibleToVisitor(e store.Entry) bool {
	switch e.Kind {
	case "record", "note", "missed", "away":
		return false
	case "deleted":
		private, _ := e.Data["private"].(bool)
		return !private
	}
	return true
}

// redactDeleted returns entries with the messages that a deleted entry among
// them targets emptied of their content (the deleted entry that follows
// tells the widget to show "deleted"). entries is not changed.
func redactDeleted(entries []store.Entry) []store.Entry {
	var gone map[string]bool
	for _, e := range entries {
		if e.Kind == "deleted" {
			if t, ok := e.Data["target"].(string); ok {
				if gone == nil {
					gone = map[string]bool{}
				}
				gone[t] = true
			}
		}
	}
	if gone == nil {
		return entries
	}
	out := make([]store.Entry, len(entries))
	for i, e := range entries {
		if gone[e.ID] {
			e = store.Entry{ID: e.ID, From: e.From, Kind: e.Kind, Author: e.Author, At: e.At}
		}
		out[i] = e
	}
	return out
}

// forVisitor strips what only agents may see: the card, an end's outcome
// label (internal, like "disqualified"), an error's position. A handoff
// keeps its team.
func forVisitor(e store.Entry) store.Entry {
	e.Card = ""
	if e.From == "agent" {
		e.Data = nil // the author's id (conversation.AuthorIDKey)
	}
	switch e.Kind {
	case "handoff":
		e.Data = map[string]any{"team": e.Data["team"]}
	case "end", "error":
		e.Data = nil
	}
	return e
}

func (v *visitorConn) start(ctx context.Context, f *protocol.Start) {
	prog := v.s.pickPlaybook(f)
	if prog == nil {
		v.fail("no_playbook", "no playbook "+strconv.Quote(truncate(f.Playbook, 60))+" is loaded", "")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, turnTimeout)
	defer cancel()
	req := conversation.StartRequest{Program: prog, Locale: f.Locale, Visitor: *visitorFrom(f.Page, f.Locale, f.Visitor), Previous: v.previous(ctx, f.Previous)}
	sess, _, err := v.s.svc.Start(tctx, req, func(sess *engine.Session, res store.Result) {
		// The conversation is new: its entries are the ones just stored,
		// so following it needs no read. It is followed before the effects
		// run, so what they add later (a call's result) comes live.
		v.welcome(prog, sess)
		_ = v.attach(ctx, sess.ID, "")
		v.deliver(res.Entries)
		v.setVersion(res.Version)
		v.status(sess.Status, sess.Outcome)
		v.out.flush() // the greeting goes out now; the effects follow
	})
	if err != nil {
		v.log.Error("creating conversation", "err", err)
		v.fail("unavailable", "the store did not answer; try again", "")
		return
	}
	if sess.Status == engine.StatusHandoff { // the first card handed off
		v.watchQueue(sess.ID, "", 0)
	}
	v.log.Info("conversation started", "conversation", sess.ID, "playbook", prog.ID, "version", prog.Hash[:12], "page", logPage(f.Page))
}

// restart begins a new conversation for the same visitor on the same
// playbook (its live version), linked to prev, and follows it.
func (v *visitorConn) restart(ctx context.Context, prev string) (string, bool) {
	old, _, err := v.s.store.Load(ctx, prev)
	if err != nil {
		v.fail("not_found", "this conversation has expired; start a new one", "")
		return "", false
	}
	prog, ok := v.s.reg.Current(old.Playbook)
	if !ok {
		v.fail("no_playbook", "the playbook of this conversation is no longer served", "")
		return "", false
	}
	previous := []string{prev}
	if m, err := v.s.inbox.Conversation(ctx, prev); err == nil {
		previous = append(previous, m.Previous...)
	}
	sess, res, err := v.s.svc.Start(ctx, conversation.StartRequest{Program: prog, Locale: old.Locale, Visitor: old.Visitor, Previous: previous}, nil)
	if err != nil {
		v.fail("unavailable", "the store did not answer; try again", "")
		return "", false
	}
	v.log.Info("conversation started again after resolve", "conversation", sess.ID, "previous", prev)
	v.welcome(prog, sess)
	if err := v.follow(ctx, sess.ID, ""); err != nil {
		v.fail("unavailable", "the store did not answer; try again", "")
		return "", false
	}
	v.setVersion(res.Version) // the catch-up read after the create
	return sess.ID, true
}

// previous returns the conversations a new one follows: the one whose
// token the widget sent (when valid), and those before it.
func (v *visitorConn) previous(ctx context.Context, token string) []string {
	if token == "" {
		return nil
	}
	prev, err := v.s.tokens.Verify(ctx, token, v.s.now())
	if err != nil {
		return nil
	}
	out := []string{prev}
	if m, err := v.s.inbox.Conversation(ctx, prev); err == nil {
		out = append(out, m.Previous...)
	}
	return out
}

// rate stores the visitor's rating of a resolved chat.
func (v *visitorConn) rate(ctx context.Context, f *protocol.Rating) {
	conv := v.conversation()
	if conv == "" {
		v.fail("no_conversation", "send start or resume first", "")
		return
	}
	_, err := v.s.svc.Rate(ctx, conv, f.Score, f.Comment)
	switch {
	case errors.Is(err, handoff.ErrNotResolved):
		v.fail("not_resolved", "you can rate the conversation once it has ended", "")
		return
	case errors.Is(err, handoff.ErrRated):
		v.fail("already_rated", "this conversation has already been rated", "")
		return
	case errors.Is(err, handoff.ErrNotFound):
		v.fail("not_found", "this conversation cannot be found", "")
		return
	case errors.Is(err, handoff.ErrInvalid):
		v.fail("invalid", "a rating is a score from 1 to 5 and a comment of at most 1,000 characters", "")
		return
	case err != nil:
		v.s.log.Warn("storing a rating", "conversation", conv, "err", err)
		v.fail("unavailable", "the rating could not be stored; send it again", "")
		return
	}
	v.push(&protocol.Rated{Score: f.Score})
}

// transcript emails the conversation to the visitor, as the service
// allows (conversation.MailVisitorTranscript: once it is over, to the
// visitor's own address, a few times). Errors are stable codes with text
// for people, never causes.
func (v *visitorConn) transcript(ctx context.Context, f *protocol.TranscriptRequest) {
	conv := v.conversation()
	if conv == "" {
		v.fail("no_conversation", "send start or resume first", f.ID)
		return
	}
	if !v.s.svc.MailOn() {
		v.fail("mail_unavailable", "email is not set up on this server", f.ID)
		return
	}
	if !v.mailLim.Allow() {
		v.fail("rate_limited", "slow down", f.ID)
		return
	}
	if err := v.s.svc.MailVisitorTranscript(ctx, conv, f.Email); err != nil {
		if p := conversation.ProblemOf(err); p != nil {
			v.fail(p.Code, p.Message, f.ID)
			return
		}
		v.log.Warn("transcript mail", "conversation", conv, "err", err)
		v.fail("unavailable", "the store did not answer; try again", f.ID)
		return
	}
	v.push(&protocol.Sent{ID: f.ID})
}

// visitorFrom is the visitor a start frame (or a widget match) describes,
// with the page and locale it names, its texts cut to size.
func visitorFrom(page, locale string, v *protocol.Visitor) *engine.Visitor {
	vis := conversation.EngineVisitor(v)
	vis.Page = truncate(page, 500)
	if vis.Language == "" {
		vis.Language = locale
	}
	vis.Name = truncate(vis.Name, 200)
	vis.Email = truncate(vis.Email, 320)
	vis.Referrer = truncate(vis.Referrer, 500)
	return &vis
}

func (v *visitorConn) welcome(prog *engine.Program, sess *engine.Session) {
	v.push(&protocol.Welcome{
		Token: v.s.tokens.Sign(sess.ID, v.s.now()), Conversation: sess.ID, Playbook: prog.ID,
		Bot:    protocol.Bot{Name: prog.Bot.Name, Avatar: prog.Bot.Avatar, Color: prog.Bot.Color},
		Locale: sess.Locale, Status: string(sess.Status),
		Mail: v.s.svc.MailOn(), // the transcript frame can work: offer "Email me the transcript"
	})
}

func (v *visitorConn) status(st engine.Status, outcome string) {
	v.push(&protocol.Status{Status: string(st), Outcome: outcome})
}

func (v *visitorConn) resume(ctx context.Context, f *protocol.Resume) {
	conv, err := v.s.tokens.Verify(ctx, f.Token, v.s.now())
	if err != nil {
		msg := "the session token is not valid; start a new conversation"
		if errors.Is(err, conversation.ErrExpiredToken) {
			msg = "the session token has expired; start a new conversation"
		}
		v.fail(protocol.Code(err.Error()), msg, "")
		return
	}
	sess, version, err := v.s.store.Load(ctx, conv)
	if errors.Is(err, store.ErrNotFound) {
		v.fail("not_found", "this conversation has ended or expired; start a new one", "")
		return
	}
	if err != nil {
		v.log.Error("loading conversation", "conversation", conv, "err", err)
		v.fail("unavailable", "the store did not answer; try again", "")
		return
	}
	prog, err := v.s.reg.Version(ctx, sess.Version)
	if err != nil {
		v.log.Error("conversation's playbook version", "conversation", conv, "err", err)
		v.fail("unavailable", "this conversation's playbook version is not available", "")
		return
	}
	v.welcome(prog, sess)
	if err := v.follow(ctx, conv, f.After); err != nil {
		v.log.Error("resuming conversation", "conversation", conv, "err", err)
		v.fail("unavailable", "the store did not answer; try again", "")
		return
	}
	// The catch-up read the transcript after the load: it holds every
	// entry of that version and the ones before.
	v.setVersion(version)
	meta, err := v.s.inbox.Conversation(ctx, conv)
	v.mu.Lock()
	v.agent = v.agent || sess.Status == engine.StatusAgent || sess.Status == engine.StatusHandoff
	v.resolved = v.resolved || (err == nil && meta.Status == handoff.StatusResolved)
	v.mu.Unlock()
	v.status(sess.Status, sess.Outcome)
	if sess.Status == engine.StatusHandoff {
		v.watchQueue(conv, "", 0)
	}
}

// message runs a visitor's message or button click (client message id
// id): check validates the frame and gives the text to store, ev is the
// engine's event.
func (v *visitorConn) message(ctx context.Context, id string, check func() (string, *protocol.Error), ev engine.Event) {
	conv := v.conversation()
	if conv == "" {
		v.fail("no_conversation", "send start or resume first", id)
		return
	}
	v.mu.Lock()
	resolved := v.resolved
	v.mu.Unlock()
	if resolved {
		// A message after an agent closed the chat starts a new
		// conversation that links to the previous ones.
		next, ok := v.restart(ctx, conv)
		if !ok {
			return
		}
		conv = next
	}
	text, fe := check()
	if fe != nil {
		v.push(fe)
		return
	}
	if !v.lim.Allow() {
		v.fail("rate_limited", "slow down: too many messages", id)
		return
	}
	entry := &store.Entry{From: "visitor", Kind: "message", Text: text, ClientID: id, At: v.s.now().UTC()}
	tctx, cancel := context.WithTimeout(ctx, turnTimeout)
	defer cancel()
	// The answer goes out as soon as the turn is stored; its side effects
	// (records, the handoff queue) run after.
	_, _, err := v.s.svc.TurnThen(tctx, conv, id, ev, []store.Entry{*entry}, func(res store.Result, info conversation.TurnInfo) {
		ack := &protocol.Ack{ID: id, Duplicate: res.Duplicate}
		if len(res.Entries) > 0 {
			ack.Entry = res.Entries[0].ID
		}
		v.push(ack)
		v.deliverTurn(ctx, conv, res)
		if !res.Duplicate {
			v.status(info.Status, info.Outcome)
			if info.Queued != nil && info.Status == engine.StatusHandoff {
				v.watchQueue(conv, info.Queued.Team, info.Queued.QueuePosition)
			}
		}
		v.out.flush()
	})
	if errors.Is(err, store.ErrNotFound) {
		v.fail("not_found", "this conversation has ended or expired; start a new one", id)
		return
	}
	if err != nil {
		v.log.Error("visitor turn", "conversation", conv, "err", err)
		v.fail("unavailable", "the message was not stored; send it again", id)
		return
	}
}

// streamID is a Redis stream id, ordered.
type streamID struct{ ms, seq uint64 }

func parseStreamID(s string) streamID {
	a, b, _ := strings.Cut(s, "-")
	ms, _ := strconv.ParseUint(a, 10, 64)
	seq, _ := strconv.ParseUint(b, 10, 64)
	return streamID{ms, seq}
}

func (a streamID) less(b streamID) bool { return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq) }

func (a streamID) String() string {
	if a.ms == 0 && a.seq == 0 {
		return ""
	}
	return strconv.FormatUint(a.ms, 10) + "-" + strconv.FormatUint(a.seq, 10)
}
