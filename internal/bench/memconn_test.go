package bench

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// acceptOne dials l and returns both ends.
func acceptOne(t *testing.T, l *MemListener) (*MemPipe, net.Conn) {
	t.Helper()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	p, err := l.Dial(time.Now().Add(10 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return p, <-accepted
}

func TestMemPipeDeadlineEndsAWaitingRead(t *testing.T) {
	l := NewMemListener(1)
	defer l.Close()
	_, srv := acceptOne(t, l)
	read := make(chan error, 1)
	go func() {
		_, err := srv.Read(make([]byte, 8))
		read <- err
	}()
	// As net/http's Hijack ends its background read.
	srv.SetReadDeadline(time.Unix(1, 0))
	if err := <-read; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after a deadline in the past: %v, want os.ErrDeadlineExceeded", err)
	}
	// A future deadline ends a read too, by its timer.
	srv.SetReadDeadline(time.Now().Add(time.Millisecond))
	if _, err := srv.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v", err)
	}
	var ne net.Error
	if err := error(os.ErrDeadlineExceeded); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatal("the deadline error is not a net.Error timeout")
	}
}

func TestMemPipeCarriesBytesBothWays(t *testing.T) {
	l := NewMemListener(4)
	defer l.Close()
	cl, srv := acceptOne(t, l)
	if _, err := cl.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 16)
	if n, err := srv.Read(b); err != nil || string(b[:n]) != "hello" {
		t.Fatalf("server read %q, %v", b[:n], err)
	}
	if _, err := srv.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if n, err := cl.Read(b); err != nil || string(b[:n]) != "world" {
		t.Fatalf("client read %q, %v", b[:n], err)
	}
	cl.Close()
	if _, err := srv.Read(b); err != io.EOF {
		t.Fatalf("server read after the client closed: %v, want io.EOF", err)
	}
	if a, ok := srv.RemoteAddr().(*net.TCPAddr); !ok || !a.IP.IsLoopback() {
		t.Fatalf("remote address %v", srv.RemoteAddr())
	}
}

func TestPassivePipeAnswersPingsAndClose(t *testing.T) {
	l := NewMemListener(1)
	defer l.Close()
	cl, srv := acceptOne(t, l)
	cl.Passive(nil)
	// A ping split over two writes, as a server may write a frame.
	if _, err := srv.Write([]byte{0x80 | opPing, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	op, payload := readServerSide(t, srv)
	if op != opPong || string(payload) != "hi" {
		t.Fatalf("answer to a ping: opcode %d %q, want a pong \"hi\"", op, payload)
	}
	if l.Stats.Pings.Load() != 1 {
		t.Fatalf("pings answered: %d", l.Stats.Pings.Load())
	}
	// A data frame is counted and dropped.
	srv.Write([]byte{0x80 | opText, 1, 'x'})
	if l.Stats.Frames.Load() != 1 {
		t.Fatalf("data frames counted: %d", l.Stats.Frames.Load())
	}
	// A close frame is answered, and the client's end is gone.
	srv.Write([]byte{0x80 | opClose, 2, 0x03, 0xe8})
	if op, payload := readServerSide(t, srv); op != opClose || string(payload) != "\x03\xe8" {
		t.Fatalf("answer to a close: opcode %d %q", op, payload)
	}
	if _, err := srv.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after the close: %v, want io.EOF", err)
	}
	if l.Stats.Closed.Load() != 1 {
		t.Fatalf("closed: %d", l.Stats.Closed.Load())
	}
}

// readServerSide reads one (masked) frame the client wrote.
func readServerSide(t *testing.T, srv net.Conn) (byte, []byte) {
	t.Helper()
	srv.SetReadDeadline(time.Now().Add(10 * time.Second)) // against a hang
	var b []byte
	buf := make([]byte, 64)
	for {
		if op, payload, _, ok := parseFrame(b); ok {
			return op, payload
		}
		n, err := srv.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		b = append(b, buf[:n]...)
	}
}

func TestIdleInProcessOnTheControl(t *testing.T) {
	l := NewMemListener(8)
	hs := &http.Server{Handler: HoldHandler(), ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(l)
	defer hs.Close()
	res, err := IdleInProcess(context.Background(), InProcessOptions{Listener: l, Connections: 200, Settle: time.Millisecond, Hold: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connections != 200 || res.Errors != 0 || res.Closed != 0 {
		t.Fatalf("%d connections, %d errors %v, %d closed", res.Connections, res.Errors, res.ErrorSamples, res.Closed)
	}
	if res.Connected.RSS == 0 || res.LiveHeap == 0 {
		t.Fatalf("no memory sampled: %+v, live %d", res.Connected, res.LiveHeap)
	}
}
