package bench

import (
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// MemListener is a net.Listener of in-memory connections (MemPipe): a
// server's HTTP handler served on it sees what it sees on TCP (reads that
// wait, deadlines, Close), with no file descriptor, so one process can
// hold more connections than its open-file limit allows. What the server
// writes never waits: it is kept for the client, or, once the client is
// passive (MemPipe.Passive), handled as it arrives (pings answered) and
// dropped.
type MemListener struct {
	conns   chan net.Conn
	done    chan struct{}
	close   sync.Once
	ready   chan struct{} // closed on the first Accept
	started sync.Once
	sources int
	next    atomic.Uint32
	// Stats count what passive clients met while idle.
	Stats MemStats
}

// MemStats count what passive clients met (MemPipe.Passive).
type MemStats struct {
	Pings  atomic.Int64 // pings answered with a pong
	Closed atomic.Int64 // connections the server closed (a close frame or Close)
	Frames atomic.Int64 // data frames received while idle
}

// NewMemListener returns a listener whose connections come from
// 127.0.0.1 .. 127.0.0.sources, as the bench's TCP dialer spreads them.
func NewMemListener(sources int) *MemListener {
	return &MemListener{conns: make(chan net.Conn), done: make(chan struct{}), ready: make(chan struct{}), sources: max(1, min(sources, 254))}
}

// Accept waits for the next Dial.
func (l *MemListener) Accept() (net.Conn, error) {
	l.started.Do(func() { close(l.ready) })
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Ready is closed once the server has called Accept.
func (l *MemListener) Ready() <-chan struct{} { return l.ready }

// Close stops Accept; open connections stay open.
func (l *MemListener) Close() error {
	l.close.Do(func() { close(l.done) })
	return nil
}

// Addr is a loopback address, for logs.
func (l *MemListener) Addr() net.Addr { return memServerAddr }

var memServerAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}

// Dial makes a connection and waits until the server accepted it.
func (l *MemListener) Dial(deadline time.Time) (*MemPipe, error) {
	n := l.next.Add(1)
	p := &MemPipe{n: n, src: byte(1 + n%uint32(l.sources)), stats: &l.Stats}
	p.cond.L = &p.mu
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case l.conns <- (*memServerConn)(p):
		return p, nil
	case <-l.done:
		return nil, net.ErrClosed
	case <-t.C:
		return nil, os.ErrDeadlineExceeded
	}
}

// memHalf is one direction of a MemPipe: the bytes written and not yet
// read, and the reader's deadline.
type memHalf struct {
	buf      []byte
	closed   bool // the writer closed: reads return io.EOF once buf is read
	deadline time.Time
	timer    *time.Timer // wakes a reader waiting past deadline
}

// MemPipe is an in-memory connection: the server's end is the net.Conn the
// listener accepts, the client's end is the MemPipe's own Read and Write.
// One mutex and one condition serve both directions.
type MemPipe struct {
	mu       sync.Mutex
	cond     sync.Cond
	toServer memHalf // what the client wrote; the server reads it
	toClient memHalf // what the server wrote; the client reads it
	// serverWriteDeadline: a server write after it fails (writes never
	// wait, but a deadline in the past is how a write is cancelled).
	serverWriteDeadline time.Time
	serverClosed        bool
	clientClosed        bool
	passive             bool // the server's writes are handled on arrival
	n                   uint32
	src                 byte
	stats               *MemStats
}

// wait blocks until h has bytes, is closed, or its deadline passed.
// Called with p.mu held.
func (p *MemPipe) wait(h *memHalf, self *bool) error {
	for len(h.buf) == 0 && !h.closed && !*self {
		if !h.deadline.IsZero() {
			d := time.Until(h.deadline)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			if h.timer == nil {
				var t *time.Timer
				t = time.AfterFunc(d, func() {
					p.mu.Lock()
					if h.timer == t {
						h.timer = nil
					}
					p.cond.Broadcast()
					p.mu.Unlock()
				})
				h.timer = t
			}
		}
		p.cond.Wait()
	}
	if *self {
		return net.ErrClosed
	}
	return nil
}

func (p *MemPipe) read(h *memHalf, self *bool, b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.wait(h, self); err != nil {
		return 0, err
	}
	if len(h.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(b, h.buf)
	h.buf = h.buf[n:]
	if len(h.buf) == 0 {
		h.buf = nil // an idle connection keeps no buffer
	}
	return n, nil
}

func (p *MemPipe) setDeadline(h *memHalf, t time.Time) {
	p.mu.Lock()
	h.deadline = t
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	p.cond.Broadcast() // a waiting reader looks again
	p.mu.Unlock()
}

// Read reads what the server wrote (the client's end).
func (p *MemPipe) Read(b []byte) (int, error) { return p.read(&p.toClient, &p.clientClosed, b) }

// Write sends b to the server (the client's end); it never waits.
func (p *MemPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clientClosed {
		return 0, net.ErrClosed
	}
	if p.serverClosed {
		return 0, io.ErrClosedPipe
	}
	p.toServer.buf = append(p.toServer.buf, b...)
	p.cond.Broadcast()
	return len(b), nil
}

// SetReadDeadline bounds the client's reads.
func (p *MemPipe) SetReadDeadline(t time.Time) { p.setDeadline(&p.toClient, t) }

// Close closes the client's end: the server reads io.EOF.
func (p *MemPipe) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.clientClosed {
		p.clientClosed = true
		p.toServer.closed = true
		p.cond.Broadcast()
	}
	return nil
}

// Passive hands the client's end over to the pipe itself: from now on
// what the server writes is parsed as websocket frames as it arrives,
// pings are answered with pongs, a close frame is answered and counted,
// and nothing else is kept. early is what the client had read and not
// used yet. No goroutine is left for the connection.
func (p *MemPipe) Passive(early []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.passive = true
	if len(early) > 0 {
		p.toClient.buf = append(append([]byte(nil), early...), p.toClient.buf...)
	}
	p.handleFrames()
}

// handleFrames handles the complete frames the server wrote to a passive
// client. Called with p.mu held.
func (p *MemPipe) handleFrames() {
	b := p.toClient.buf
	for {
		op, payload, n, ok := parseFrame(b)
		if !ok {
			break
		}
		b = b[n:]
		switch op {
		case opPing:
			if !p.clientClosed && !p.serverClosed {
				p.toServer.buf = appendClientFrame(p.toServer.buf, opPong, payload)
				p.stats.Pings.Add(1)
				p.cond.Broadcast()
			}
		case opClose:
			if !p.clientClosed {
				if !p.serverClosed {
					p.toServer.buf = appendClientFrame(p.toServer.buf, opClose, payload[:min(2, len(payload))])
				}
				p.clientClosed = true
				p.toServer.closed = true
				p.stats.Closed.Add(1)
				p.cond.Broadcast()
			}
		case opPong:
		default:
			p.stats.Frames.Add(1)
		}
	}
	if len(b) == 0 {
		b = nil
	} else {
		b = append([]byte(nil), b...) // a partial frame, kept alone
	}
	p.toClient.buf = b
}

// memServerConn is the server's end of a MemPipe.
type memServerConn MemPipe

func (c *memServerConn) p() *MemPipe { return (*MemPipe)(c) }

func (c *memServerConn) Read(b []byte) (int, error) {
	p := c.p()
	return p.read(&p.toServer, &p.serverClosed, b)
}

func (c *memServerConn) Write(b []byte) (int, error) {
	p := c.p()
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.serverClosed:
		return 0, net.ErrClosed
	case !p.serverWriteDeadline.IsZero() && !time.Now().Before(p.serverWriteDeadline):
		return 0, os.ErrDeadlineExceeded
	case p.clientClosed:
		return 0, io.ErrClosedPipe // as a reset by the peer
	}
	p.toClient.buf = append(p.toClient.buf, b...)
	if p.passive {
		p.handleFrames()
	} else {
		p.cond.Broadcast()
	}
	return len(b), nil
}

func (c *memServerConn) Close() error {
	p := c.p()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.serverClosed {
		p.serverClosed = true
		p.toClient.closed = true
		p.toServer.buf = nil
		if p.toServer.timer != nil {
			p.toServer.timer.Stop()
			p.toServer.timer = nil
		}
		if p.passive && !p.clientClosed {
			p.clientClosed = true
			p.stats.Closed.Add(1)
		}
		p.cond.Broadcast()
	}
	return nil
}

func (c *memServerConn) LocalAddr() net.Addr { return memServerAddr }

// RemoteAddr is 127.0.0.N:port, N spread as the bench's TCP dialer does.
func (c *memServerConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, c.src), Port: 1024 + int(c.n%60000)}
}

func (c *memServerConn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

func (c *memServerConn) SetReadDeadline(t time.Time) error {
	p := c.p()
	p.setDeadline(&p.toServer, t)
	return nil
}

func (c *memServerConn) SetWriteDeadline(t time.Time) error {
	p := c.p()
	p.mu.Lock()
	p.serverWriteDeadline = t
	p.mu.Unlock()
	return nil
}

// Websocket frames (RFC 6455), as much as a client needs.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// parseFrame reads one frame from b: its opcode, its payload (unmasked),
// and how many bytes it took; ok is false when b holds no whole frame.
func parseFrame(b []byte) (op byte, payload []byte, n int, ok bool) {
	if len(b) < 2 {
		return 0, nil, 0, false
	}
	op = b[0] & 0x0F
	masked := b[1]&0x80 != 0
	size := uint64(b[1] & 0x7F)
	n = 2
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, nil, 0, false
		}
		size, n = uint64(b[2])<<8|uint64(b[3]), 4
	case 127:
		if len(b) < 10 {
			return 0, nil, 0, false
		}
		size = 0
		for _, c := range b[2:10] {
			size = size<<8 | uint64(c)
		}
		n = 10
	}
	var key []byte
	if masked {
		if len(b) < n+4 {
			return 0, nil, 0, false
		}
		key, n = b[n:n+4], n+4
	}
	if uint64(len(b)-n) < size {
		return 0, nil, 0, false
	}
	payload = b[n : n+int(size)]
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, n + int(size), true
}

// appendClientFrame appends a final, masked frame (a client's frames are
// masked; the key here is fixed, which the server cannot tell).
func appendClientFrame(b []byte, op byte, payload []byte) []byte {
	key := [4]byte{0x5a, 0x17, 0xc3, 0x9e}
	b = append(b, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}
