package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/warm"
	"github.com/playbook-dev/playbook/protocol"
)

// Visitor protocol limits (docs/protocol.md).
const (
	maxReadLimit = protocol.MaxReadLimit // larger frames close the connection (1009)
	maxText      = protocol.MaxText      // characters in a message
	sendBuffer   = protocol.SendBuffer   // frames queued for a slow client before it is dropped
	writeTimeout = 10 * time.Second
	pingEvery    = 30 * time.Second
)

// visitorConn is one visitor's websocket: it decodes the visitor's
// frames, hands each to the connection's conversation.Widget and writes
// the frames the widget pushes.
type visitorConn struct {
	s    *Server
	ws   *websocket.Conn
	ip   string
	out  outbox    // frames to send; see cork.go (part of v: one allocation less a connection)
	cork *corkConn // the connection under ws
	log  *slog.Logger
	w    *conversation.Widget

	mu     sync.Mutex
	closed bool
	done   chan struct{}

	// turn is held while a frame is handled (a turn); Drain takes it to
	// wait for the running turn.
	turn chan struct{}
	// stopped: the server drains; frames read are not handled (under turn).
	stopped bool
	// uncount takes the connection out of the open connections metric.
	uncount func()
	// pingTimer is keepAlive's timer, set and reset under pingMu.
	pingMu    sync.Mutex
	pingTimer *time.Timer
	// access is the websocket's access log line, not yet written (nil:
	// written, or no access log): its first frame writes it, with the
	// conversation's fields when it starts one (logStarted), or its end.
	access atomic.Pointer[wsAccess]
}

// wsAccess is what a visitor websocket's access log line says of its
// upgrade (accessLog's fields): its request id, how long the upgrade took
// and the client's address (with Config.LogIPs).
type wsAccess struct {
	id       string
	duration time.Duration
	ip       string
}

// loggedByConn is the echo context's key that tells accessLog the
// handler's connection writes the request's line itself.
const loggedByConn = "playbook.loggedByConn"

func (s *Server) handleVisitorWS(c *echo.Context) error {
	var begin time.Time
	if s.cfg.AccessLog {
		begin = time.Now()
	}
	r, w := c.Request(), c.Response()
	ip := c.RealIP()
	if s.conns.isDraining() {
		return s.refuseDraining()
	}
	if !s.limits.connect(ip, s.now()) {
		return echo.NewHTTPError(429, "too many connections from your address; try again in a minute")
	}
	var requestID string // the 101 goes without it (corkingWriter.WriteHeader)
	if s.cfg.AccessLog {
		requestID = w.Header().Get(requestIDHeader)
	}
	cw := &corkingWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, r, &websocket.AcceptOptions{OriginPatterns: s.cfg.AllowedOrigins})
	if err != nil {
		return nil // Accept has written the HTTP error (403 for a refused origin)
	}
	ws.SetReadLimit(maxReadLimit)
	v := &visitorConn{s: s, ws: ws, ip: ip, cork: cw.conn, log: s.log, done: make(chan struct{}), turn: make(chan struct{}, 1),
		uncount: s.app.Metrics().SocketOpened("visitor")}
	// Messages and transcript requests are limited apart (each transcript
	// request costs store reads even when refused; the mails themselves
	// are bounded by package transcript's Quota).
	v.w = s.widgets.Open(v, conversation.Allow{Message: messageLimiter().Allow, Mail: messageLimiter().Allow}, s.log)
	// The connection lives on in its own goroutine and this handler
	// returns: net/http's buffers, the request and this goroutine's deep
	// stack are let go, which is most of an idle widget's memory.
	base := context.WithoutCancel(r.Context())
	ctx, cancelCtx := context.WithCancel(base)
	// Ending the connection closes the socket, which ends the read loop's
	// Read; the Read itself gets a context that is never done, so that
	// coder/websocket registers no context.AfterFunc for it (a few hundred
	// bytes an idle widget keeps for as long as it waits).
	cancel := func() { cancelCtx(); ws.CloseNow() }
	v.openOutbox(base, cancel)
	if !s.conns.addVisitor(v) { // the drain began meanwhile
		v.uncount()
		v.w.Close()
		cancel()
		_ = ws.Close(closeRestart, restartReason)
		return nil
	}
	if s.cfg.AccessLog {
		// The upgrade's line waits for the first frame (the widget sends
		// it at once): a start's line then says both (logStarted).
		v.access.Store(&wsAccess{id: requestID, duration: time.Since(begin), ip: ip})
		c.Set(loggedByConn, true)
	}
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
	close(v.done)
	v.mu.Unlock()
	v.logAccess()
	v.s.conns.removeVisitor(v)
	v.uncount()
	v.w.Close()
	v.ws.CloseNow()
}

// openOutbox makes v's outbox ready: its writer writes with wctx and
// ends the connection with cancel when a write fails (writeFrames).
func (v *visitorConn) openOutbox(wctx context.Context, cancel context.CancelFunc) {
	v.out.write = func() { v.writeFrames(wctx, cancel) }
}

// writeFrames sends what the outbox holds until it is empty, each batch in
// one write. A write that fails ends the connection.
//
// The frames are written corked, into memory, with a context that is
// never done (coder/websocket then arms no timer per frame); the write
// that can wait, the uncork's, has its deadline on the connection
// (writeTimeout). Ending the connection closes it, which ends that write.
// wctx is that context, made once a connection (not once a write).
func (v *visitorConn) writeFrames(wctx context.Context, cancel context.CancelFunc) {
	var frames [][]byte
	for {
		frames = v.out.next(frames)
		if frames == nil {
			return
		}
		v.cork.cork()
		var err error
		for _, b := range frames {
			if err = v.ws.Write(wctx, websocket.MessageText, b); err != nil {
				break
			}
		}
		if uerr := v.cork.uncork(writeTimeout); err == nil {
			err = uerr
		}
		if err != nil {
			cancel()
			return
		}
	}
}

// keepAlive pings the visitor every pingEvery; one that does not answer
// within writeTimeout is disconnected. Stop the timer it returns. The
// timer and its lock are v's (pingTimer, pingMu), so that the timer's
// function is its only other allocation.
func (v *visitorConn) keepAlive(ctx context.Context, cancel context.CancelFunc) *time.Timer {
	v.pingMu.Lock()
	defer v.pingMu.Unlock()
	v.pingTimer = time.AfterFunc(pingEvery, func() {
		pctx, pcancel := context.WithTimeout(ctx, writeTimeout)
		err := v.ws.Ping(pctx)
		pcancel()
		if err != nil {
			cancel()
			return
		}
		v.pingMu.Lock()
		v.pingTimer.Reset(pingEvery)
		v.pingMu.Unlock()
	})
	return v.pingTimer
}

// Push queues a frame (conversation.Frames); a client too slow to take it
// is disconnected (it resumes from its last entry and loses nothing).
//
// The frame is encoded into the outbox's pooled bytes (outbox.encode),
// not a slice of its own.
func (v *visitorConn) Push(frame protocol.Frame) {
	select {
	case <-v.done:
		return
	default:
	}
	ok, err := v.out.encode(frame)
	if err != nil {
		v.log.Error("encoding frame", "err", err)
		return
	}
	if !ok {
		// Not here: the widget may push holding its lock (a delivery),
		// which Conversation takes.
		go func() {
			v.log.Warn("visitor too slow; disconnecting", "conversation", v.w.Conversation())
			_ = v.ws.Close(websocket.StatusPolicyViolation, "too slow")
		}()
	}
}

// EncodesOnPush says Push is done with a frame when it returns: it
// encodes it at once (conversation.FrameEncoder), so the widget may push
// a frame it reuses.
func (v *visitorConn) EncodesOnPush() {}

var _ conversation.FrameEncoder = (*visitorConn)(nil)

// Flush lets the frames queued so far go out now (conversation.Frames).
func (v *visitorConn) Flush() { v.out.flush() }

// Drain lets the frames queued so far go out now and waits until they are
// written (conversation.Drainer), or ctx is done, or the connection ends.
func (v *visitorConn) Drain(ctx context.Context) error {
	v.out.flush()
	select {
	case <-v.out.idle():
		return nil
	case <-v.done:
		return net.ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

var _ conversation.Drainer = (*visitorConn)(nil)

// FlushTurn lets the frames queued so far go out now, written on the
// calling goroutine, the one that handles the visitor's frame
// (conversation.TurnFlusher): the turn's answer goes out without a switch
// to a writer goroutine.
func (v *visitorConn) FlushTurn() {
	if v.out.flushHere() {
		v.out.write()
	}
}

func (v *visitorConn) readLoop(ctx context.Context) {
	readCtx := context.WithoutCancel(ctx) // see handleVisitorWS's cancel
	for {
		text, buf, err := v.readFrame(readCtx)
		if err != nil {
			return
		}
		select {
		case v.turn <- struct{}{}:
		case <-ctx.Done():
			putFrameBuf(buf)
			return
		}
		if v.stopped { // draining: the client sends it again after it reconnects
			<-v.turn
			putFrameBuf(buf)
			continue
		}
		v.handleFrame(ctx, text, buf.Bytes())
		<-v.turn
		putFrameBuf(buf)
	}
}

// readFrame reads the visitor's next frame (whether it came as text, and
// its bytes), waiting with ctx. The bytes are in a pooled buffer, taken
// once the frame has begun to arrive (an idle widget holds none): give it
// back with putFrameBuf once the frame is handled, which keeps nothing of
// them (DecodeVisitor copies what it decodes). coder/websocket's Read
// would make a new slice a frame (io.ReadAll: 512 bytes and more).
func (v *visitorConn) readFrame(ctx context.Context) (text bool, buf *bytes.Buffer, err error) {
	typ, r, err := v.ws.Reader(ctx)
	if err != nil {
		return false, nil, err
	}
	buf = frameBufs.Get().(*bytes.Buffer)
	if _, err := buf.ReadFrom(r); err != nil {
		putFrameBuf(buf)
		return false, nil, err
	}
	return typ == websocket.MessageText, buf, nil
}

// frameBufs are the buffers visitors' frames are read into.
var frameBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxFrameBuf: a buffer grown past it (a frame refused as too large) is
// left to the collector rather than kept in frameBufs.
const maxFrameBuf = 2 * protocol.MaxFrame

// putFrameBuf gives back a buffer readFrame returned.
func putFrameBuf(buf *bytes.Buffer) {
	if buf.Cap() > maxFrameBuf {
		return
	}
	buf.Reset()
	frameBufs.Put(buf)
}

// handleFrame decodes and handles one frame the visitor sent, on a turn
// worker (onShortStack), and waits for it. The worker's task is a pooled
// frameTask, whose run func is made once: a closure a frame would be an
// allocation every turn, and one kept a connection would cost every idle
// widget its bytes.
func (v *visitorConn) handleFrame(ctx context.Context, text bool, data []byte) {
	t := frameTasks.Get().(*frameTask)
	t.v, t.ctx, t.text, t.data = v, ctx, text, data
	v.onShortStack(t.run)
	t.v, t.ctx, t.data = nil, nil, nil // the connection is the collector's again
	frameTasks.Put(t)
}

// frameTask is a visitor's frame handed to a turn worker.
type frameTask struct {
	v    *visitorConn
	ctx  context.Context
	text bool
	data []byte
	run  func() // t.handle, bound once
}

var frameTasks = sync.Pool{New: func() any {
	t := new(frameTask)
	t.run = t.handle
	return t
}}

func (t *frameTask) handle() {
	f, fe := protocol.DecodeVisitor(t.text, t.data)
	if fe != nil {
		t.v.Push(fe)
	} else {
		t.v.handle(t.ctx, f)
	}
}

// onShortStack runs fn on a turn worker (warm.Pool) and waits for it. A
// turn (the engine's step, the store, JSON) needs a deep stack; run on the
// read loop's goroutine, it would grow that stack to 8 KB or more and an
// idle widget, which spends hours waiting in Read, would keep it. The read
// loop's own stack stays small; the deep stacks belong to the workers,
// about as many as turns run at once, which keep them from turn to turn.
func (v *visitorConn) onShortStack(fn func()) { workers.Run(fn) }

// workers run the visitors' turns and their connections' writers.
var workers = warm.New(warm.Idle)

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

// handle passes one visitor frame to the widget; an error it returns goes
// out as its error frame (conversation.ErrorFrame).
func (v *visitorConn) handle(ctx context.Context, f protocol.Frame) {
	v.out.hold() // the frames this one causes go out together
	defer func() {
		if v.out.releaseHere() { // written here, on the turn's worker
			v.out.write()
		}
	}()
	var err error
	id := "" // the client message id an error is about
	switch f := f.(type) {
	case *protocol.Ping:
		v.Push(&protocol.Pong{})
	case *protocol.Start:
		prog := v.s.svc.PickPlaybook(f, v.s.cfg.DefaultPlaybook)
		if err = v.w.Start(ctx, prog, f); err == nil {
			if conv := v.w.Conversation(); conv != "" { // "": the pre-chat form went out
				v.logStarted(conv, prog.ID, prog.Hash[:12], logPage(f.Page))
			}
		}
	case *protocol.Resume:
		err = v.w.Resume(ctx, f)
	case *protocol.Message:
		id, err = f.ID, v.w.Message(ctx, f)
	case *protocol.Click:
		id, err = f.ID, v.w.Click(ctx, f)
	case *protocol.VisitorTyping:
		err = v.w.Typing(ctx, f.On)
	case *protocol.Rating:
		err = v.w.Rate(ctx, f)
	case *protocol.TranscriptRequest:
		id, err = f.ID, v.w.Transcript(ctx, f)
	case *protocol.LeaveMessage:
		id, err = f.ID, v.w.LeaveMessage(ctx, f)
	}
	if v.access.Load() != nil {
		v.logAccess() // the first frame did not start a conversation
	}
	if err != nil {
		v.Push(conversation.ErrorFrame(err, id))
	}
}

// logStarted logs conversation conv's start: on the websocket's access
// line when it is not yet written (the first frame, the access log on),
// which then says both in one line and one write; else as "conversation
// started". Typed attributes: no value boxed.
func (v *visitorConn) logStarted(conv, playbook, version, page string) {
	started := [...]slog.Attr{slog.String("conversation", conv), slog.String("playbook", playbook),
		slog.String("version", version), slog.String("page", page)}
	if a := v.access.Swap(nil); a != nil {
		var attrs [11]slog.Attr
		n := len(a.attrs(v.s.cfg.LogIPs, &attrs))
		n += copy(attrs[n:], started[:])
		logLine(v.log, slog.LevelInfo, "http request", attrs[:n]...)
		return
	}
	logLine(v.log, slog.LevelInfo, "conversation started", started[:]...)
}

// logAccess writes the websocket's access line when it is not yet
// written.
func (v *visitorConn) logAccess() {
	if a := v.access.Swap(nil); a != nil {
		var attrs [11]slog.Attr
		logLine(v.log, slog.LevelInfo, "http request", a.attrs(v.s.cfg.LogIPs, &attrs)...)
	}
}

// attrs are the access line's attributes (accessLog's, for a visitor's
// accepted websocket), in to.
func (a *wsAccess) attrs(logIPs bool, to *[11]slog.Attr) []slog.Attr {
	return accessAttrs(to[:0], a.id, http.MethodGet, visitorPath, http.StatusSwitchingProtocols, a.duration, 0, logIPs, a.ip)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
