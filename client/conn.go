package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/playbook-dev/playbook/protocol"
)

// Options are how a connection is made. The zero value works.
type Options struct {
	// HTTPClient dials the websockets and sends the API requests
	// (default: http.DefaultClient; SignIn adds a cookie jar to a copy).
	HTTPClient *http.Client
	// Origin is the Origin header of the websockets (default: the
	// server's own origin, which it always accepts).
	Origin string
	// Header is sent with every websocket dial (e.g. a Cookie).
	Header http.Header
	// Buffer is how many received frames wait for Next before the
	// connection stops reading (default 256).
	Buffer int
}

// Received is one frame as it came: Frame decoded, Raw as sent.
type Received struct {
	Frame protocol.Frame
	Raw   []byte
}

// Conn is one websocket: a visitor's (/ws/visitor) or an agent's live
// feed (/ws/agent). Send and Next may be called from different
// goroutines; Next from one at a time.
type Conn struct {
	ws     *websocket.Conn
	decode func([]byte) (protocol.Frame, error)
	frames chan Received
	base   string
	path   string
	opts   Options
	cancel context.CancelFunc

	mu           sync.Mutex
	err          error  // why reading stopped
	token        string // the conversation's token, from the last welcome
	conversation string // its id
	last         string // the newest entry id received
}

// ErrClosed is returned by Next once the connection is closed and every
// frame it received was read; errors.Is finds it in the returned error,
// which also tells why (a close status, a network error).
var ErrClosed = errors.New("client: connection closed")

// ErrBadFrame is wrapped by the error of Next when the server sent a frame
// that is not a JSON object of the protocol (the connection is closed).
var ErrBadFrame = errors.New("client: a frame that is not of the protocol")

// DialVisitor opens a visitor websocket to the server at baseURL
// (http://host:port). Send Start or Resume first.
func DialVisitor(ctx context.Context, baseURL string, opts Options) (*Conn, error) {
	return dial(ctx, baseURL, "/ws/visitor", protocol.DecodeServer, opts)
}

// DialAgent opens an agent's live feed (/ws/agent) with opts.Header
// carrying its credentials: a session Cookie, or an Authorization: Bearer
// API token. Inbox.Feed does this for a signed-in Inbox. The first frame
// is a Hello.
func DialAgent(ctx context.Context, baseURL string, opts Options) (*Conn, error) {
	return dial(ctx, baseURL, "/ws/agent", protocol.DecodeAgentFeed, opts)
}

func dial(ctx context.Context, baseURL, path string, decode func([]byte) (protocol.Frame, error), opts Options) (*Conn, error) {
	base := strings.TrimRight(baseURL, "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want http://HOST[:PORT] or https://…", baseURL)
	}
	ws := "ws"
	if u.Scheme == "https" {
		ws = "wss"
	}
	hdr := http.Header{}
	for k, v := range opts.Header {
		hdr[k] = append([]string(nil), v...)
	}
	if opts.Origin != "" {
		hdr.Set("Origin", opts.Origin)
	} else if hdr.Get("Origin") == "" {
		hdr.Set("Origin", u.Scheme+"://"+u.Host)
	}
	conn, resp, err := websocket.Dial(ctx, ws+"://"+u.Host+u.Path+path, &websocket.DialOptions{HTTPClient: opts.HTTPClient, HTTPHeader: hdr})
	if err != nil {
		if resp != nil {
			return nil, &DialError{Status: resp.StatusCode, Err: err}
		}
		return nil, fmt.Errorf("client: connecting to %s: %w", path, err)
	}
	conn.SetReadLimit(protocol.MaxReadLimit)
	n := opts.Buffer
	if n <= 0 {
		n = 256
	}
	rctx, cancel := context.WithCancel(context.Background())
	c := &Conn{ws: conn, decode: decode, frames: make(chan Received, n), base: base, path: path, opts: opts, cancel: cancel}
	go c.readLoop(rctx)
	return c, nil
}

// DialError is a websocket dial the server refused with an HTTP status
// (403 for a refused origin, 429 for too many connections, 401 for an
// agent feed without a session).
type DialError struct {
	Status int
	Err    error
}

func (e *DialError) Error() string {
	return fmt.Sprintf("client: connecting: HTTP %d: %v", e.Status, e.Err)
}
func (e *DialError) Unwrap() error { return e.Err }

func (c *Conn) readLoop(ctx context.Context) {
	defer close(c.frames)
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			c.stop(err)
			return
		}
		if typ != websocket.MessageText {
			c.stop(fmt.Errorf("%w: a binary frame", ErrBadFrame))
			return
		}
		f, err := c.decode(b)
		if err != nil {
			c.stop(fmt.Errorf("%w: %w (%.200q)", ErrBadFrame, err, b))
			return
		}
		c.observe(f)
		select {
		case c.frames <- Received{Frame: f, Raw: b}:
		case <-ctx.Done():
			c.stop(ctx.Err())
			return
		}
	}
}

func (c *Conn) stop(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.ws.CloseNow()
}

// observe keeps the conversation's token and the newest entry id.
func (c *Conn) observe(f protocol.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch f := f.(type) {
	case *protocol.Welcome:
		if f.Conversation != c.conversation {
			c.last = "" // a new conversation (after resolve, or a start)
		}
		c.token, c.conversation = f.Token, f.Conversation
	case *protocol.EntryFrame:
		if EntryIDLess(c.last, f.Entry.ID) {
			c.last = f.Entry.ID
		}
	}
}

// Next returns the next frame received. ctx bounds the wait only: when it
// ends, Next returns its error and the connection stays open. After the
// connection closed and its frames were read, Next returns an error that
// wraps ErrClosed.
func (c *Conn) Next(ctx context.Context) (protocol.Frame, error) {
	r, err := c.NextRaw(ctx)
	return r.Frame, err
}

// NextRaw is Next with the frame's bytes as received.
func (c *Conn) NextRaw(ctx context.Context) (Received, error) {
	select {
	case r, ok := <-c.frames:
		if !ok {
			return Received{}, c.closedErr()
		}
		return r, nil
	case <-ctx.Done():
		return Received{}, ctx.Err()
	}
}

func (c *Conn) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil || errors.Is(c.err, context.Canceled) {
		return ErrClosed
	}
	return fmt.Errorf("%w: %w", ErrClosed, c.err)
}

// CloseStatus is the websocket close status the server ended the
// connection with (-1 when it did not close it with one, or not yet).
func (c *Conn) CloseStatus() websocket.StatusCode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return websocket.CloseStatus(c.err)
}

// Restarting reports whether the server closed the connection because it
// is shutting down (close status protocol.CloseRestart, 1012): reconnect
// (Reconnect, or ReconnectTo another server of the deployment), which
// resumes after the last entry received, and send again, with the same
// client ids, the messages that got no Ack (the server dedupes them).
func (c *Conn) Restarting() bool {
	return c.CloseStatus() == protocol.CloseRestart
}

// Until reads frames until ok reports true for one, and returns it; the
// frames before it are dropped.
func (c *Conn) Until(ctx context.Context, ok func(protocol.Frame) bool) (protocol.Frame, error) {
	for {
		f, err := c.Next(ctx)
		if err != nil {
			return nil, err
		}
		if ok(f) {
			return f, nil
		}
	}
}

// Send sends one frame.
func (c *Conn) Send(ctx context.Context, f protocol.Frame) error {
	b, err := protocol.Encode(f)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, b)
}

// SendRaw sends b as one text frame, as it is (for tests of what the
// server does with frames that are not well formed).
func (c *Conn) SendRaw(ctx context.Context, b []byte) error {
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: sending: %w", err)
	}
	return nil
}

// SendBinary sends b as one binary frame (which the server refuses).
func (c *Conn) SendBinary(ctx context.Context, b []byte) error {
	return c.ws.Write(ctx, websocket.MessageBinary, b)
}

// Start begins a new conversation.
func (c *Conn) Start(ctx context.Context, s protocol.Start) error { return c.Send(ctx, &s) }

// Resume continues the conversation of token with the entries after
// after ("" for all).
func (c *Conn) Resume(ctx context.Context, token, after string) error {
	return c.Send(ctx, &protocol.Resume{Token: token, After: after})
}

// Say sends text the visitor typed, with client message id id.
func (c *Conn) Say(ctx context.Context, id, text string) error {
	return c.Send(ctx, &protocol.Message{ID: id, Text: text})
}

// Click sends a click on a button of value (and label, shown in the
// transcript), with client message id id.
func (c *Conn) Click(ctx context.Context, id, value, label string) error {
	return c.Send(ctx, &protocol.Click{ID: id, Value: value, Label: label})
}

// Ping sends a ping; the server answers with a Pong after every frame it
// read before, so reading through the Pong waits for their answers.
func (c *Conn) Ping(ctx context.Context) error { return c.Send(ctx, &protocol.Ping{}) }

// Token is the token of the conversation of the last Welcome ("" before).
func (c *Conn) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// Conversation is the id of the conversation of the last Welcome.
func (c *Conn) Conversation() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.conversation
}

// LastEntry is the id of the newest entry received of the conversation
// ("" before any): resume after it.
func (c *Conn) LastEntry() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// Reconnect closes c, opens a new visitor websocket to the same server
// and resumes the conversation after the last entry c received. The new
// Conn starts with c's token, conversation and last entry. It fails when
// c never got a Welcome.
func (c *Conn) Reconnect(ctx context.Context) (*Conn, error) {
	return c.ReconnectTo(ctx, c.base)
}

// ReconnectTo is Reconnect to another server of the same deployment
// (baseURL).
func (c *Conn) ReconnectTo(ctx context.Context, baseURL string) (*Conn, error) {
	c.mu.Lock()
	token, conv, last := c.token, c.conversation, c.last
	c.mu.Unlock()
	if token == "" {
		return nil, errors.New("client: nothing to resume: no welcome was received")
	}
	c.CloseNow()
	n, err := dial(ctx, baseURL, c.path, c.decode, c.opts)
	if err != nil {
		return nil, err
	}
	n.token, n.conversation, n.last = token, conv, last
	if err := n.Resume(ctx, token, last); err != nil {
		n.CloseNow()
		return nil, err
	}
	return n, nil
}

// Close closes the connection with a normal closure.
func (c *Conn) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	return err
}

// CloseNow closes the connection without the closing handshake.
func (c *Conn) CloseNow() {
	c.cancel()
	c.ws.CloseNow()
}

// EntryIDLess reports whether entry id a comes before b ("" comes before
// all). Entry ids are MS-SEQ, ordered by MS then SEQ.
func EntryIDLess(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	return am < bm || am == bm && as < bs
}

func splitID(s string) (uint64, uint64) {
	a, b, _ := strings.Cut(s, "-")
	return atou(a), atou(b)
}

func atou(s string) uint64 {
	var n uint64
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + uint64(r-'0')
	}
	return n
}
