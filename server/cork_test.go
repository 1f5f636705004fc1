package server

import (
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/race"
)

// countConn records the writes that reach the network.
type countConn struct {
	net.Conn
	mu     sync.Mutex
	writes []string
}

func (c *countConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, string(p))
	return len(p), nil
}

func TestCorkedWritesGoOutTogether(t *testing.T) {
	under := &countConn{}
	c := &corkConn{Conn: under}
	c.Write([]byte("a"))
	c.cork()
	c.Write([]byte("b"))
	c.Write([]byte("c"))
	if len(under.writes) != 1 {
		t.Fatalf("corked writes reached the network: %q", under.writes)
	}
	if err := c.uncork(0); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("d"))
	if got := strings.Join(under.writes, "|"); got != "a|bc|d" {
		t.Fatalf("writes %q, want a|bc|d", got)
	}
	if err := c.uncork(0); err != nil || len(under.writes) != 3 {
		t.Fatalf("uncork without cork wrote %q (%v)", under.writes, err)
	}
}

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	countConn
	deadlines []time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.deadlines = append(c.deadlines, t)
	return nil
}

// The uncork's write, the one that can wait for a slow client, is bounded
// by a deadline on the connection, which is taken off after it (the pings
// and the close write without one).
func TestUncorkWritesWithADeadline(t *testing.T) {
	under := &deadlineConn{}
	c := &corkConn{Conn: under}
	c.cork()
	c.Write([]byte("a"))
	if err := c.uncork(time.Minute); err != nil {
		t.Fatal(err)
	}
	if len(under.deadlines) != 2 || under.deadlines[0].IsZero() || !under.deadlines[1].IsZero() {
		t.Fatalf("deadlines %v, want one set then cleared", under.deadlines)
	}

	// A client that reads nothing: the write fails, it does not hang.
	server, client := net.Pipe()
	defer client.Close()
	defer server.Close()
	c = &corkConn{Conn: server}
	c.cork()
	c.Write([]byte("never read"))
	if err := c.uncork(time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("uncork to a client that does not read: %v, want the deadline", err)
	}
}

func TestOutboxHoldsUntilRelease(t *testing.T) {
	started := make(chan struct{}, 10)
	o := newOutbox(func() { started <- struct{}{} })
	o.hold()
	o.add([]byte("ack"))
	o.add([]byte("entry"))
	select {
	case <-started:
		t.Fatal("started a writer while held")
	default:
	}
	o.release()
	<-started
	if got := o.next(nil); len(got) != 2 || string(got[0]) != "ack" || string(got[1]) != "entry" {
		t.Fatalf("next = %q", got)
	}
	// While the writer runs, new frames go to it; none is started.
	o.add([]byte("live"))
	if got := o.next(nil); len(got) != 1 {
		t.Fatalf("next = %q", got)
	}
	if got := o.next(nil); got != nil {
		t.Fatalf("next on an empty outbox = %q, want nil (the writer stops)", got)
	}
	select {
	case <-started:
		t.Fatal("a second writer was started")
	default:
	}
	o.add([]byte("later")) // no writer runs: one starts
	<-started
	o.hold()
	if got := o.next(nil); got != nil {
		t.Fatalf("next while held = %q, want nil", got)
	}
	o.release()
	<-started
	o.next(nil)
	for i := range sendBuffer {
		if !o.add([]byte("x")) {
			t.Fatalf("frame %d refused before the buffer was full", i)
		}
	}
	if o.add([]byte("x")) {
		t.Fatal("a frame past sendBuffer was queued")
	}
}

func TestOutboxFlushWhileHeld(t *testing.T) {
	started := make(chan struct{}, 10)
	o := newOutbox(func() { started <- struct{}{} })
	o.hold()
	o.add([]byte("ack"))
	o.add([]byte("status"))
	o.flush() // the answer is complete: it may go while the side effects run
	<-started
	o.add([]byte("later")) // still held
	if got := o.next(nil); len(got) != 2 || string(got[1]) != "status" {
		t.Fatalf("next after flush = %q, want the two flushed frames", got)
	}
	if got := o.next(nil); got != nil {
		t.Fatalf("next = %q, want nil: the frame after the flush is held", got)
	}
	o.release()
	<-started
	if got := o.next(nil); len(got) != 1 || string(got[0]) != "later" {
		t.Fatalf("next after release = %q", got)
	}
}

// BenchmarkTurnFrames: a turn's four frames queued while the turn holds
// the outbox, then written corked in one write, by a writer handed to a
// worker (what a turn did before) or by the turn's own goroutine
// (FlushTurn and the end of handle now).
func BenchmarkTurnFrames(b *testing.B) {
	frames := [][]byte{[]byte(`{"type":"ack","id":"m1"}`), []byte(`{"type":"entry"}`), []byte(`{"type":"entry"}`), []byte(`{"type":"status"}`)}
	for _, here := range []bool{false, true} {
		name := "worker"
		if here {
			name = "here"
		}
		b.Run(name, func(b *testing.B) {
			o := corkedOutbox()
			b.ReportAllocs()
			for range b.N {
				turnFrames(o, frames, here)
			}
		})
	}
}

// corkedOutbox is an outbox whose writer writes corked, as writeFrames
// does, to a connection that takes every write.
func corkedOutbox() *outbox {
	c := &corkConn{Conn: discardConn{}}
	var o *outbox
	o = newOutbox(func() {
		var f [][]byte
		for {
			f = o.next(f)
			if f == nil {
				return
			}
			c.cork()
			for _, p := range f {
				c.Write(p)
			}
			c.uncork(0)
		}
	})
	return o
}

// turnFrames queues frames while held, as a turn does, and writes them on
// the calling goroutine (here) or on a worker.
func turnFrames(o *outbox, frames [][]byte, here bool) {
	o.hold()
	for _, f := range frames {
		o.add(f)
	}
	if here {
		if o.flushHere() {
			o.write()
		}
	} else {
		o.flush()
		<-o.idle()
	}
	if o.releaseHere() {
		o.write()
	}
}

// TestTurnFramesAllocations: a turn's frames queued and written corked
// on the turn's goroutine allocate nothing of the outbox's: the queue's
// list is a pooled array the writer gives back (it grew from nothing on
// every turn, three allocations for four frames; docs/benchmarks.md,
// "serve's CPU a turn against the reference's (issue 13, tenth round)").
func TestTurnFramesAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	frames := [][]byte{[]byte(`{"type":"ack","id":"m1"}`), []byte(`{"type":"entry"}`), []byte(`{"type":"entry"}`), []byte(`{"type":"status"}`)}
	o := corkedOutbox()
	n := testing.AllocsPerRun(200, func() { turnFrames(o, frames, true) })
	if n > 0 {
		t.Fatalf("%v allocations a turn's frames, want 0", n)
	}
}

// The frames held back by a turn stay queued, in order, when a flush lets
// the ones before them go: the writer's list and the queue's are apart.
func TestOutboxKeepsWhatIsHeldApart(t *testing.T) {
	o := newOutbox(func() {})
	o.hold()
	o.add([]byte("a"))
	o.add([]byte("b"))
	o.flush()
	o.add([]byte("c"))
	got := o.next(nil)
	o.add([]byte("d"))
	if len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
		t.Fatalf("next = %q, want a, b", got)
	}
	if again := o.next(got); again != nil {
		t.Fatalf("next while held = %q, want nil", again)
	}
	o.release()
	rest := o.next(nil)
	if len(rest) != 2 || string(rest[0]) != "c" || string(rest[1]) != "d" {
		t.Fatalf("next after release = %q, want c, d", rest)
	}
}

// discardConn takes every write.
type discardConn struct{ net.Conn }

func (discardConn) Write(p []byte) (int, error) { return len(p), nil }
