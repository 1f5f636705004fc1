package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/protocol"
)

type button = protocol.Button

// dialer opens visitor websockets, spreading them over loopback source
// addresses 127.0.0.1 .. 127.0.0.N so that many connections do not run out
// of ephemeral ports of one address.
type dialer struct {
	client *http.Client
	urls   []string // the servers, http://127.0.0.1:PORT
}

func newDialer(urls []string, sources int) (*dialer, error) {
	if sources < 1 {
		sources = 1
	}
	if sources > 254 {
		return nil, fmt.Errorf("at most 254 source addresses (127.0.0.1 to 127.0.0.254)")
	}
	var next atomic.Uint32
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		i := next.Add(1) % uint32(sources)
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}}
		return d.DialContext(ctx, network, addr)
	}
	d := &dialer{client: &http.Client{Transport: upgradeTransport(dial)}}
	for _, u := range urls {
		u = strings.TrimRight(u, "/")
		host, ok := strings.CutPrefix(u, "http://")
		if !ok {
			return nil, fmt.Errorf("server URL %q: want http://127.0.0.1:PORT", u)
		}
		h, _, err := net.SplitHostPort(host)
		if err != nil {
			return nil, fmt.Errorf("server URL %q: %v", u, err)
		}
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("server URL %q: the bench only talks to loopback addresses (127.0.0.0/8)", u)
		}
		d.urls = append(d.urls, u)
	}
	if len(d.urls) == 0 {
		return nil, errors.New("no server URL")
	}
	return d, nil
}

// frameBuffer is how many frames a bench connection holds for its reader:
// a turn's few, kept small since the idle scenario holds thousands.
const frameBuffer = 16

func (d *dialer) dial(ctx context.Context, server int) (*client.Conn, error) {
	c, err := client.DialVisitor(ctx, d.urls[server%len(d.urls)], client.Options{HTTPClient: d.client, Buffer: frameBuffer})
	if err != nil {
		if st := client.StatusOf(err); st != 0 {
			return nil, fmt.Errorf("connecting: HTTP %d: %w", st, err)
		}
		return nil, fmt.Errorf("connecting: %w", err)
	}
	return c, nil
}

// startFrame is the frame that opens conversation n.
func startFrame(playbook string, n int) *protocol.Start {
	return &protocol.Start{Playbook: playbook, Page: "/bench", Locale: "en", Visitor: &protocol.Visitor{ID: VisitorID(n)}}
}

// checkError is a reply that differs from the reference conversation.
type checkError struct {
	n    int // conversation
	turn int // 1-based
	msg  string
}

func (e *checkError) Error() string {
	return fmt.Sprintf("conversation %d turn %d: %s", e.n, e.turn, e.msg)
}

// turnResult is what one turn measured.
type turnResult struct {
	latency time.Duration
	done    time.Time // when the bot's last message arrived
	kind    string    // TurnStart, TurnAnswer or TurnLast
	// conversation is the conversation's id, from the welcome (start
	// turns only).
	conversation string
}

// Kinds of turns, for latencies by kind.
const (
	TurnStart  = "start"  // the start frame: a new conversation and its greeting
	TurnAnswer = "answer" // an answer the bot asks the next question after
	TurnLast   = "last"   // the answer that ends the conversation, followed by the outcome ("last lead")
)

// turnConn is a visitor websocket as conversation drives it: send arms
// the turn's timeout and sends the visitor's frame, next returns the
// frames of the turn, endTurn disarms the timeout, and timedOut tells
// whether a failed turn failed because it took longer than its timeout.
type turnConn interface {
	send(f protocol.Frame) error
	next(ctx context.Context) (client.Received, error)
	endTurn()
	timedOut() bool
}

// clientTurns drives a client.Conn (its frames read by its own goroutine,
// which also answers pings while idle: the idle scenario's widgets), one
// context with the turn's timeout per turn.
type clientTurns struct {
	ctx     context.Context
	ws      *client.Conn
	timeout time.Duration
	tctx    context.Context
	cancel  context.CancelFunc
}

func (c *clientTurns) send(f protocol.Frame) error {
	c.tctx, c.cancel = context.WithTimeout(c.ctx, c.timeout)
	return c.ws.Send(c.tctx, f)
}

func (c *clientTurns) next(context.Context) (client.Received, error) { return c.ws.NextRaw(c.tctx) }

func (c *clientTurns) endTurn() {
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *clientTurns) timedOut() bool { return c.tctx != nil && c.tctx.Err() != nil }

// conversation runs the visitor's frames of one script over ws and checks
// every reply. onTurn is called after each turn.
func conversation(ctx context.Context, ws turnConn, sc Script, playbook string, turnTimeout, think time.Duration, onTurn func(turnResult)) error {
	var lastButtons []button
	for i := range sc.Turns {
		t := &sc.Turns[i]
		if i > 0 {
			if err := pause(ctx, think); err != nil {
				return err
			}
		}
		var out protocol.Frame
		switch t.Type {
		case "start":
			out = startFrame(playbook, sc.N)
		case "message":
			out = &protocol.Message{ID: "m" + strconv.Itoa(i), Text: t.Text}
		case "button":
			value := ""
			for _, b := range lastButtons {
				if b.Label == t.Label {
					value = b.Value
				}
			}
			if value == "" {
				return &checkError{sc.N, i + 1, fmt.Sprintf("the bot offered no button %q (buttons %v)", t.Label, lastButtons)}
			}
			out = &protocol.Click{ID: "m" + strconv.Itoa(i), Value: value, Label: t.Label}
		}
		sent := time.Now()
		err := ws.send(out)
		if err == nil {
			var res turnResult
			res, lastButtons, err = awaitTurn(ctx, ws.next, sc, i, sent)
			switch {
			case i == 0:
				res.kind = TurnStart
			case i == len(sc.Turns)-1:
				res.kind = TurnLast + " " + sc.Outcome
			default:
				res.kind = TurnAnswer
			}
			if err == nil && onTurn != nil {
				onTurn(res)
			}
		}
		ws.endTurn()
		if err != nil {
			var ce *checkError
			if errors.As(err, &ce) {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if ws.timedOut() {
				err = fmt.Errorf("no complete answer within %v", turnTimeout)
			}
			return &checkError{sc.N, i + 1, err.Error()}
		}
	}
	return nil
}

// pause waits a random time between half and one and a half times think,
// as a person reading and typing would.
func pause(ctx context.Context, think time.Duration) error {
	if think <= 0 {
		return nil
	}
	return sleep(ctx, think/2+rand.N(think))
}

// awaitTurn reads frames until the status frame that ends turn i, checking
// each against the script; next returns the next frame received (a
// client.Conn's NextRaw). It returns the turn's latency and the buttons of
// the bot's last message.
func awaitTurn(ctx context.Context, next func(context.Context) (client.Received, error), sc Script, i int, sent time.Time) (turnResult, []button, error) {
	t := &sc.Turns[i]
	fail := func(format string, args ...any) (turnResult, []button, error) {
		return turnResult{}, nil, &checkError{sc.N, i + 1, fmt.Sprintf(format, args...)}
	}
	var res turnResult
	var buttons []button
	bot, events := 0, 0
	echoed, acked, welcomed := false, false, false
	conv := ""
	wantEcho := t.Text
	if t.Type == "button" {
		wantEcho = t.Label
	}
	for {
		r, err := next(ctx)
		if err != nil {
			if errors.Is(err, client.ErrBadFrame) {
				return fail("%v", err)
			}
			return turnResult{}, nil, err
		}
		data := r.Raw
		switch f := r.Frame.(type) {
		case *protocol.EntryFrame:
			e := entryOf(f.Entry)
			switch {
			case e.From == "bot" && e.Kind == "message":
				if bot >= len(t.Bot) {
					return fail("an extra bot message %q", e.Text)
				}
				if e.Text != t.Bot[bot] {
					return fail("bot said %q, want %q", e.Text, t.Bot[bot])
				}
				bot++
				if bot == len(t.Bot) {
					now := time.Now()
					res = turnResult{latency: now.Sub(sent), done: now}
					buttons = e.Buttons
					if t.Buttons != nil {
						labels := make([]string, len(e.Buttons))
						for j, b := range e.Buttons {
							labels[j] = b.Label
						}
						if !slices.Equal(labels, t.Buttons) {
							return fail("buttons %q, want %q", labels, t.Buttons)
						}
					}
				}
			case e.From == "visitor":
				if t.Type == "start" || echoed || e.Text != wantEcho || e.ClientID != "m"+strconv.Itoa(i) {
					return fail("unexpected visitor entry %q (client id %q)", e.Text, e.ClientID)
				}
				echoed = true
			case e.From == "system":
				if events >= len(t.Events) || e.Kind != t.Events[events] {
					return fail("unexpected %s event", e.Kind)
				}
				events++
			default:
				return fail("unexpected entry from %q kind %q", e.From, e.Kind)
			}
		case *protocol.Welcome:
			if t.Type != "start" || welcomed || f.Conversation == "" {
				return fail("unexpected welcome frame")
			}
			welcomed, conv = true, f.Conversation
		case *protocol.Ack:
			if t.Type == "start" || acked || f.ID != "m"+strconv.Itoa(i) || f.Duplicate {
				return fail("unexpected ack %s", data)
			}
			acked = true
		case *protocol.Status:
			switch {
			case bot < len(t.Bot):
				return fail("status %q before the bot's answer %q", f.Status, t.Bot[bot])
			case events < len(t.Events):
				return fail("status %q before the %s event", f.Status, t.Events[events])
			case t.Type == "start" && !welcomed:
				return fail("no welcome frame")
			case t.Type != "start" && (!acked || !echoed):
				return fail("no ack or no visitor entry for the message")
			case f.Status != t.Status:
				return fail("status %q, want %q", f.Status, t.Status)
			}
			if i == len(sc.Turns)-1 && f.Outcome != sc.Outcome {
				return fail("outcome %q, want %q", f.Outcome, sc.Outcome)
			}
			res.conversation = conv
			return res, buttons, nil
		case *protocol.Error:
			return fail("error %s: %s", f.Code, f.Message)
		case *protocol.Typing, *protocol.Pong:
		default:
			return fail("unexpected %q frame", f.FrameType())
		}
	}
}
