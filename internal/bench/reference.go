package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	goredis "github.com/redis/go-redis/v9"

	service "github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// Reference is the bench's reference server (issue 13): the least a server
// must do for the bench's visitors to see what `playbook serve` shows them,
// so that serve's numbers have something to be compared with on the same
// machine at the same moment. It speaks serve's /ws/visitor frames, byte
// for byte as far as the bench can tell (TestReferenceFramesMatchServe),
// and per visitor frame it does only this:
//
//   - read and decode the frame;
//   - step the conversation (engine.Step on the compiled reference
//     playbook, playbooks/bench/qualify.yaml, with the bench's simulated
//     presence);
//   - store the turn with ONE EVALSHA of store/redis's turn script, on the
//     same keys (redisstore.Store.Commit, without pending marks);
//   - write the ack, the entries and the status in one write.
//
// What serve does besides, the reference leaves out: the inbox record and
// the team's queue (and the queue frame after a handoff), timers, the CRM's
// records, webhooks, the pub/sub hub that brings other processes' entries,
// resume, rate limits, agents. The session stays in the connection's memory
// between turns (the bench opens one websocket per conversation). It is a
// benchmark aid only: nothing of it is linked into serve's code path.
type Reference struct {
	prog   *engine.Program
	st     *redisstore.Store
	tokens *service.Tokens
	log    *slog.Logger
}

// NewReference returns a reference server storing turns in rdb under prefix
// (as serve's --prefix). log may be nil.
func NewReference(rdb goredis.UniversalClient, prefix string, log *slog.Logger) (*Reference, error) {
	prog, diags := dsl.Load("qualify.yaml", playbooks.BenchQualify)
	if prog == nil {
		return nil, fmt.Errorf("reference playbook: %v", diags)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return &Reference{
		prog: prog,
		// No cache: the connection holds its session. No pending marks:
		// the reference leaves no work after a turn.
		st:     redisstore.New(rdb, redisstore.Options{Prefix: prefix, CacheSize: -1}),
		tokens: service.NewTokens(secret, 24*time.Hour),
		log:    log,
	}, nil
}

// Handler serves /ws/visitor and /readyz.
func (r *Reference) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/visitor", r.serveVisitor)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return mux
}

// refTurnTimeout bounds a turn's store write, as serve's TurnTimeout.
const refTurnTimeout = 15 * time.Second

func (r *Reference) serveVisitor(w http.ResponseWriter, req *http.Request) {
	cw := &refCorkingWriter{ResponseWriter: w}
	ws, err := websocket.Accept(cw, req, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(protocol.MaxReadLimit)
	c := &refConn{r: r, ws: ws, cork: cw.conn}
	ctx := req.Context()
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		f, fe := protocol.DecodeVisitor(typ == websocket.MessageText, data)
		if fe != nil {
			c.push(fe)
		} else {
			c.handle(ctx, f)
		}
		if err := c.flush(ctx); err != nil {
			return
		}
	}
}

// refConn is one visitor websocket of the reference server.
type refConn struct {
	r    *Reference
	ws   *websocket.Conn
	cork *refCork
	out  []protocol.Frame
	buf  []byte // a frame's encoding, reused

	sess    *engine.Session // nil: none started, or to be read again
	conv    string
	version int64
}

func (c *refConn) push(f protocol.Frame) { c.out = append(c.out, f) }

// flush writes the frames of one visitor frame in one write.
func (c *refConn) flush(ctx context.Context) error {
	if len(c.out) == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c.cork.cork()
	var err error
	for _, f := range c.out {
		// Encoded as serve encodes its frames (protocol.AppendEncode, into
		// a buffer kept by the connection): the reference is the least a
		// server must do, so it gets every saving serve has that is not
		// serve's own work.
		if c.buf, err = protocol.AppendEncode(c.buf[:0], f); err != nil {
			break
		}
		if err = c.ws.Write(wctx, websocket.MessageText, c.buf); err != nil {
			break
		}
	}
	clear(c.out)
	c.out = c.out[:0]
	if uerr := c.cork.uncork(); err == nil {
		err = uerr
	}
	return err
}

func (c *refConn) handle(ctx context.Context, f protocol.Frame) {
	switch f := f.(type) {
	case *protocol.Ping:
		c.push(&protocol.Pong{})
	case *protocol.Start:
		c.start(ctx, f)
	case *protocol.Message:
		text, fe := f.Check()
		if fe != nil {
			c.push(fe)
			return
		}
		c.turn(ctx, f.ID, text, engine.Event{Kind: engine.EventText, Text: f.Text})
	case *protocol.Click:
		text, fe := f.Check()
		if fe != nil {
			c.push(fe)
			return
		}
		c.turn(ctx, f.ID, text, engine.Event{Kind: engine.EventButton, Button: f.Value})
	case *protocol.VisitorTyping:
		// Nobody to relay it to: the reference has no agents.
	default:
		c.push(&protocol.Error{Code: protocol.CodeUnknownType, Message: "the reference server takes start, message, button, typing and ping frames only"})
	}
}

// world fills in the time and who is online, as serve's Service.World with
// --simulate-presence bench.
func (c *refConn) world(sess *engine.Session, ev *engine.Event) {
	ev.Now = time.Now().UTC()
	if len(c.r.prog.Teams) > 0 {
		ev.Online, _ = SimulatedPresence{}.Online(context.Background(), sess, c.r.prog.Teams)
	}
}

func (c *refConn) start(ctx context.Context, f *protocol.Start) {
	if f.Playbook != "" && f.Playbook != c.r.prog.ID {
		c.push(&protocol.Error{Code: protocol.CodeNoPlaybook, Message: "the reference server runs only " + c.r.prog.ID})
		return
	}
	p := c.r.prog
	vis := *service.VisitorFrom(f.Page, f.Locale, f.Visitor)
	sess := engine.NewSession(p, service.NewID(), time.Now().UTC())
	sess.Visitor = vis
	ev := engine.Event{Kind: engine.EventStart, Locale: f.Locale, Visitor: &vis}
	c.world(sess, &ev)
	sess, effs := engine.Step(p, sess, ev)
	entries := service.EntriesOf(p, sess, nil, effs, ev.Now)
	tctx, cancel := context.WithTimeout(ctx, refTurnTimeout)
	defer cancel()
	res, err := c.r.st.Commit(tctx, sess.ID, 0, sess, "", entries)
	if err != nil {
		c.r.log.Error("creating conversation", "err", err)
		c.push(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the store did not answer; try again"})
		return
	}
	c.sess, c.conv, c.version = sess, sess.ID, res.Version
	c.push(&protocol.Welcome{
		Token: c.r.tokens.Sign(sess.ID, time.Now()), Conversation: sess.ID, Playbook: p.ID,
		Bot:    protocol.Bot{Name: p.Bot.Name, Avatar: p.Bot.Avatar, Color: p.Bot.Color},
		Locale: sess.Locale, Status: string(sess.Status),
	})
	c.deliver(res.Entries)
	c.push(&protocol.Status{Status: string(sess.Status), Outcome: sess.Outcome})
}

// turn runs a visitor's message or click (client message id id, text the
// text to store) as serve's Widget.message does.
func (c *refConn) turn(ctx context.Context, id, text string, ev engine.Event) {
	if c.conv == "" {
		c.push(&protocol.Error{Code: protocol.CodeNoConversation, Message: "start a conversation first", ID: id})
		return
	}
	tctx, cancel := context.WithTimeout(ctx, refTurnTimeout)
	defer cancel()
	if c.sess == nil {
		// A turn failed: what the store holds is the truth.
		sess, v, err := c.r.st.Load(tctx, c.conv)
		if err != nil {
			c.unavailable(id, err)
			return
		}
		c.sess, c.version = sess, v
	}
	now := time.Now().UTC()
	entries := []store.Entry{{From: "visitor", Kind: "message", Text: text, ClientID: id, At: now}}
	before := c.sess
	c.sess = nil // Step changes it in place: kept again once stored
	c.world(before, &ev)
	next, effs := engine.Step(c.r.prog, before, ev)
	entries = service.EntriesOf(c.r.prog, next, entries, effs, ev.Now)
	res, err := c.r.st.Commit(tctx, c.conv, c.version, next, id, entries)
	if err != nil {
		c.unavailable(id, err)
		return
	}
	ack := &protocol.Ack{ID: id, Duplicate: res.Duplicate}
	if len(res.Entries) > 0 {
		ack.Entry = res.Entries[0].ID
	}
	c.push(ack)
	c.deliver(res.Entries)
	if res.Duplicate {
		return // c.sess stays nil: the next turn reads the stored one
	}
	c.sess, c.version = next, res.Version
	c.push(&protocol.Status{Status: string(next.Status), Outcome: next.Outcome})
}

func (c *refConn) unavailable(id string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		c.push(&protocol.Error{Code: protocol.CodeNotFound, Message: "this conversation has ended or expired; start a new one", ID: id})
		return
	}
	c.r.log.Error("visitor turn", "conversation", c.conv, "err", err)
	c.push(&protocol.Error{Code: protocol.CodeUnavailable, Message: "the message was not stored; send it again", ID: id})
}

// deliver pushes the entries a visitor may see, as serve's widget does.
func (c *refConn) deliver(entries []store.Entry) {
	for _, e := range entries {
		if service.VisibleToVisitor(e) {
			c.push(&protocol.EntryFrame{Entry: service.ForVisitor(e)})
		}
	}
}

// refCork is the reference's hijacked connection, whose writes are held
// back while corked and sent in one write when uncorked (as serve's
// server/cork.go does, so both pay one system call per turn).
type refCork struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte
}

func (c *refCork) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		c.buf = append(c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *refCork) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *refCork) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}

// refCorkingWriter hands websocket.Accept a refCork on Hijack.
type refCorkingWriter struct {
	http.ResponseWriter
	conn *refCork
}

func (w *refCorkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.conn = &refCork{Conn: conn}
	// What the client sent after its request stays in brw.Reader.
	return w.conn, bufio.NewReadWriter(brw.Reader, bufio.NewWriterSize(w.conn, 4096)), nil
}

func (w *refCorkingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
