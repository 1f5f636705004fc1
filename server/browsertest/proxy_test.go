package browsertest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// proxy forwards loopback TCP connections to a server and can break them
// the ways a network does: drop what the server sends (so acks are lost),
// cut every connection, and refuse new ones until healed.
type proxy struct {
	ln net.Listener

	mu     sync.Mutex
	target string // where new connections go
	conns  map[net.Conn]bool
	down   bool // refuse new connections
	mute   bool // drop server-to-browser bytes
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})
	return p
}

// Addr is the proxy's host:port.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		p.mu.Lock()
		target := p.target
		p.mu.Unlock()
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		go func() {
			_, _ = io.Copy(s, c)
			s.Close()
			c.Close()
		}()
		go func() {
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				p.mu.Lock()
				mute := p.mute
				p.mu.Unlock()
				if n > 0 && !mute {
					if _, werr := c.Write(buf[:n]); werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			s.Close()
			c.Close()
		}()
	}
}

// setMute drops (or again forwards) what the server sends.
func (p *proxy) setMute(on bool) {
	p.mu.Lock()
	p.mute = on
	p.mu.Unlock()
}

// setTarget sends new connections to target (host:port); open ones stay.
func (p *proxy) setTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// setDown refuses (or again accepts) new connections.
func (p *proxy) setDown(on bool) {
	p.mu.Lock()
	p.down = on
	p.mu.Unlock()
}

// cut closes every open connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
