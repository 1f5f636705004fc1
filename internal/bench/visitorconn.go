package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/protocol"
)

// visitorConn is a load visitor's websocket, read on the visitor's own
// goroutine: no reader goroutine and no channel between it and the
// visitor, no context per turn nor per read or write (one timer per
// connection bounds each turn, one context.AfterFunc the run), and every
// frame read into the same buffer. It sends and reads the same frames as
// a client.Conn; the bench's conversations use it, the idle scenario
// keeps client.Conn (whose reader answers pings while a widget idles).
type visitorConn struct {
	ws      *websocket.Conn
	buf     []byte // the last frame read; reused
	timeout time.Duration
	timer   *time.Timer // closes the connection when a turn takes longer than timeout
	late    atomic.Bool // the timer fired
	stopRun func() bool // stops the AfterFunc of the run's context
}

// dialVisitor opens a visitor websocket to server i, as dial does (the
// same request: the Origin of the server, no compression).
func (d *dialer) dialVisitor(ctx, run context.Context, server int, turnTimeout time.Duration) (*visitorConn, error) {
	u := d.urls[server%len(d.urls)]
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(u, "http")+"/ws/visitor", &websocket.DialOptions{
		HTTPClient: d.client, HTTPHeader: map[string][]string{"Origin": {u}},
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("connecting: HTTP %d: %w", resp.StatusCode, err)
		}
		return nil, fmt.Errorf("connecting: %w", err)
	}
	ws.SetReadLimit(protocol.MaxReadLimit)
	c := &visitorConn{ws: ws, timeout: turnTimeout, buf: make([]byte, 0, 1024)}
	c.timer = time.AfterFunc(turnTimeout, func() {
		c.late.Store(true)
		c.ws.CloseNow()
	})
	c.timer.Stop()
	c.stopRun = context.AfterFunc(run, func() { c.ws.CloseNow() })
	return c, nil
}

// send arms the turn's timeout and sends f.
func (c *visitorConn) send(f protocol.Frame) error {
	b, err := protocol.Encode(f)
	if err != nil {
		return err
	}
	c.timer.Reset(c.timeout)
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: sending: %w", err)
	}
	return nil
}

// next reads the next frame. Raw is valid until the next call. The
// context is not used: the turn's timer and the run's AfterFunc close the
// connection, which ends a read.
func (c *visitorConn) next(context.Context) (client.Received, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return client.Received{}, fmt.Errorf("%w: %w", client.ErrClosed, err)
	}
	c.buf = c.buf[:0]
	for {
		if len(c.buf) == cap(c.buf) {
			c.buf = append(c.buf, 0)[:len(c.buf)]
		}
		n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
		c.buf = c.buf[:len(c.buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return client.Received{}, fmt.Errorf("%w: %w", client.ErrClosed, err)
		}
	}
	if typ != websocket.MessageText {
		c.ws.CloseNow()
		return client.Received{}, fmt.Errorf("%w: a binary frame", client.ErrBadFrame)
	}
	f, err := protocol.DecodeServer(c.buf)
	if err != nil {
		c.ws.CloseNow()
		return client.Received{}, fmt.Errorf("%w: %w (%.200q)", client.ErrBadFrame, err, c.buf)
	}
	return client.Received{Frame: f, Raw: c.buf}, nil
}

func (c *visitorConn) endTurn() { c.timer.Stop() }

func (c *visitorConn) timedOut() bool { return c.late.Load() }

// Close closes the connection with a normal closure (the close handshake).
func (c *visitorConn) Close() error {
	c.timer.Stop()
	c.stopRun()
	return c.ws.Close(websocket.StatusNormalClosure, "")
}

// CloseNow closes the connection without the handshake.
func (c *visitorConn) CloseNow() {
	c.timer.Stop()
	c.stopRun()
	c.ws.CloseNow()
}
