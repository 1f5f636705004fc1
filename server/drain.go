package server

import (
	"context"
	"fmt"
	"sync"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/protocol"
)

// closeRestart is protocol.CloseRestart as a close status.
const closeRestart = websocket.StatusCode(protocol.CloseRestart)

// restartReason is the close frame's reason of a drained socket.
const restartReason = "server restarting: reconnect and resume"

// openConns are the open websockets, for Drain.
type openConns struct {
	mu       sync.Mutex
	draining bool
	visitors map[*visitorConn]struct{}
	agents   map[*agentConn]struct{}
}

// addVisitor records v; false once the server drains (close it then).
func (o *openConns) addVisitor(v *visitorConn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.draining {
		return false
	}
	if o.visitors == nil {
		o.visitors = map[*visitorConn]struct{}{}
	}
	o.visitors[v] = struct{}{}
	return true
}

func (o *openConns) removeVisitor(v *visitorConn) {
	o.mu.Lock()
	delete(o.visitors, v)
	o.mu.Unlock()
}

// addAgent records ac; false once the server drains (close it then).
func (o *openConns) addAgent(ac *agentConn) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.draining {
		return false
	}
	if o.agents == nil {
		o.agents = map[*agentConn]struct{}{}
	}
	o.agents[ac] = struct{}{}
	return true
}

func (o *openConns) removeAgent(ac *agentConn) {
	o.mu.Lock()
	delete(o.agents, ac)
	o.mu.Unlock()
}

// isDraining reports whether Drain began.
func (o *openConns) isDraining() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.draining
}

// drain marks the set draining and returns what is open.
func (o *openConns) drain() ([]*visitorConn, []*agentConn) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.draining = true
	vs := make([]*visitorConn, 0, len(o.visitors))
	for v := range o.visitors {
		vs = append(vs, v)
	}
	as := make([]*agentConn, 0, len(o.agents))
	for a := range o.agents {
		as = append(as, a)
	}
	return vs, as
}

// Drain shuts the server's websockets down gracefully, for a process that
// is stopping (serve on SIGTERM): the App drains (GET /readyz answers 503
// "draining"), new websockets are refused (503), each visitor's running
// turn finishes and what it sent goes out, then every visitor and agent
// socket is closed with protocol.CloseRestart (1012), which tells clients
// to reconnect and resume. A visitor frame read after the drain began is
// not handled: the client sends it again after it reconnects (it has no
// ack for it). When ctx ends first, the sockets still open are closed at
// once and Drain says how many. Stop the HTTP server (http.Server.Shutdown)
// alongside: hijacked websockets are not its to wait for. (The App's own
// Drain, called earlier, only makes /readyz answer 503: the server keeps
// serving and accepting until this Drain, which gives a load balancer time
// to notice.)
func (s *Server) Drain(ctx context.Context) error {
	s.app.Drain()
	vs, as := s.conns.drain()
	var wg sync.WaitGroup
	for _, v := range vs {
		wg.Add(1)
		go func() { defer wg.Done(); v.drain(ctx) }()
	}
	for _, ac := range as {
		wg.Add(1)
		go func() { defer wg.Done(); ac.drain(ctx) }()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	n := 0
	for _, v := range vs {
		if !v.isClosed() {
			n++
		}
		v.ws.CloseNow()
	}
	for _, ac := range as {
		ac.ws.CloseNow()
	}
	<-done
	if n == 0 {
		return nil
	}
	return fmt.Errorf("server: drain: %d visitor sockets closed without waiting for their turn: %w", n, ctx.Err())
}

// refuseDraining answers a websocket upgrade while the server drains.
func (s *Server) refuseDraining() error {
	return echo.NewHTTPError(503, "draining: this server is restarting; connect again")
}

// drain waits for v's running turn, stops it from handling more frames,
// lets what is queued go out, and closes the socket with CloseRestart.
func (v *visitorConn) drain(ctx context.Context) {
	select {
	case v.turn <- struct{}{}:
		v.stopped = true
		<-v.turn
	case <-v.done:
		return
	case <-ctx.Done():
		v.ws.CloseNow()
		return
	}
	v.out.flush()
	select {
	case <-v.out.idle():
	case <-v.done:
		return
	case <-ctx.Done():
		v.ws.CloseNow()
		return
	}
	closed := make(chan struct{})
	go func() { defer close(closed); _ = v.ws.Close(closeRestart, restartReason) }()
	select {
	case <-closed:
	case <-ctx.Done():
		v.ws.CloseNow()
		<-closed
	}
}

// isClosed reports whether v's connection has ended.
func (v *visitorConn) isClosed() bool {
	select {
	case <-v.done:
		return true
	default:
		return false
	}
}

// drain closes the agent's feed with CloseRestart (its actions are HTTP
// requests, which the HTTP server's shutdown waits for).
func (ac *agentConn) drain(ctx context.Context) {
	closed := make(chan struct{})
	go func() { defer close(closed); _ = ac.ws.Close(closeRestart, restartReason) }()
	select {
	case <-closed:
	case <-ctx.Done():
		ac.ws.CloseNow()
		<-closed
	}
}
