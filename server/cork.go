package server

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/playbook-dev/playbook/protocol"
)

// A turn sends a visitor several frames at once (ack, the visitor's entry,
// the bot's messages, status). Written one by one, each costs the server a
// system call and the browser a wake-up. The outbox holds a connection's
// frames while its read loop handles a frame, and a writer sends them
// corked: coder/websocket writes each frame to the corkConn, which keeps
// the bytes and writes them all in one go when uncorked.
//
// The writer runs only while there is something to send: on the goroutine
// that handled the visitor's frame, once its answer is complete (the turn's
// worker, whose stack is grown: no goroutine switch), or, for frames that
// come from elsewhere (the hub, a queue's place), on one of the workers (a
// goroutine that outlives it). An idle widget costs one goroutine (its
// reader), not two.

// outbox is a connection's queue of encoded frames to send, bounded like a
// channel of sendBuffer frames.
type outbox struct {
	mu      sync.Mutex
	frames  [][]byte
	held    int             // > 0: a frame is being handled; send later
	ready   int             // the first ready frames may go even while held
	writing bool            // a writer is running
	write   func()          // runs a writer, which calls next until it says stop
	idlers  []chan struct{} // closed when nothing is left to write (idle)
	// arena holds the bytes of the frames encode queued (nil: none yet),
	// pooled: it goes to the writer with the last of them (spent), which
	// gives it back once they are written. Frames are only ever appended
	// to it, so a frame's bytes stay as they were until it goes back.
	arena *[]byte
	spent *[]byte
}

func newOutbox(write func()) *outbox { return &outbox{write: write} }

// writersHandedOff counts the writers started on a worker (workers.Go)
// rather than on the goroutine that queued the frames; a test holds that
// a visitor's turn hands off none.
var writersHandedOff atomic.Int64

// handOff runs the outbox's writer on a worker.
func (o *outbox) handOff() {
	writersHandedOff.Add(1)
	workers.Go(o.write)
}

// frameLists are the arrays of the outboxes' queues: one is taken when a
// frame is queued on an empty outbox, and given back by the writer once
// it has written the frames next handed it (next's done). A turn's frames
// then cost no allocation of their list, and an idle widget holds none.
var frameLists = sync.Pool{New: func() any { return new([sendBuffer][]byte) }}

// frameList returns an empty queue on a pooled array.
func frameList() [][]byte { return frameLists.Get().(*[sendBuffer][]byte)[:0] }

// recycle gives the array of a list next returned back to frameLists.
func recycle(done [][]byte) {
	if cap(done) != sendBuffer {
		return
	}
	a := (*[sendBuffer][]byte)(done[:sendBuffer])
	clear(a[:]) // the frames' bytes are the collector's again
	frameLists.Put(a)
}

// add queues a frame; false when sendBuffer frames are already waiting.
func (o *outbox) add(b []byte) bool {
	o.mu.Lock()
	if len(o.frames) >= sendBuffer {
		o.mu.Unlock()
		return false
	}
	if o.frames == nil {
		o.frames = frameList()
	}
	o.frames = append(o.frames, b)
	start := o.startLocked()
	o.mu.Unlock()
	if start {
		o.handOff()
	}
	return true
}

// frameArenas are the outboxes' arenas.
var frameArenas = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxArena: an arena grown past it (a long catch-up) is left to the
// collector rather than kept in frameArenas.
const maxArena = 64 << 10

// encode queues frame f, encoded into the outbox's arena (as
// protocol.Encode would); false when sendBuffer frames are already
// waiting. An error is f's encoding's: nothing is queued.
func (o *outbox) encode(f protocol.Frame) (bool, error) {
	o.mu.Lock()
	if len(o.frames) >= sendBuffer {
		o.mu.Unlock()
		return false, nil
	}
	if o.arena == nil {
		o.arena = frameArenas.Get().(*[]byte)
	}
	at := len(*o.arena)
	b, err := protocol.AppendEncode(*o.arena, f)
	if err != nil {
		o.mu.Unlock()
		return true, err
	}
	*o.arena = b
	if o.frames == nil {
		o.frames = frameList()
	}
	o.frames = append(o.frames, b[at:len(b):len(b)])
	start := o.startLocked()
	o.mu.Unlock()
	if start {
		o.handOff()
	}
	return true, nil
}

// startLocked reports whether a writer must be started now, and marks it
// started.
func (o *outbox) startLocked() bool {
	if o.writing || o.sendable() == 0 {
		return false
	}
	o.writing = true
	return true
}

// hold keeps frames queued until release, so the frames one visitor frame
// causes go out together.
func (o *outbox) hold() {
	o.mu.Lock()
	o.held++
	o.mu.Unlock()
}

func (o *outbox) release() {
	if o.releaseHere() {
		o.handOff()
	}
}

// releaseHere is release for the goroutine that held: true when a writer
// must run now, marked started, which the caller runs itself (o.write).
func (o *outbox) releaseHere() bool {
	o.mu.Lock()
	o.held--
	start := o.startLocked()
	o.mu.Unlock()
	return start
}

// flush lets the frames queued so far go out while held: the answer to a
// visitor's frame is complete, what the handling does next may take time.
func (o *outbox) flush() {
	if o.flushHere() {
		o.handOff()
	}
}

// flushHere is flush for a goroutine that writes itself: true when a
// writer must run now, marked started, which the caller runs (o.write).
func (o *outbox) flushHere() bool {
	o.mu.Lock()
	o.ready = len(o.frames)
	start := o.startLocked()
	o.mu.Unlock()
	return start
}

// sendable is how many frames may go now.
// idle returns a channel closed once every queued frame was written (at
// once when none is queued nor being written).
func (o *outbox) idle() <-chan struct{} {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := make(chan struct{})
	if len(o.frames) == 0 && !o.writing {
		close(c)
		return c
	}
	o.idlers = append(o.idlers, c)
	return c
}

func (o *outbox) sendable() int {
	if o.held > 0 {
		return o.ready
	}
	return len(o.frames)
}

// next returns the frames that may go and removes them from the queue; nil
// tells the writer to stop (nothing to send, or the frames are held).
// done is what the previous call returned, written now (nil on the first
// call): its array goes back to frameLists, and the writer must not use
// it again.
func (o *outbox) next(done [][]byte) [][]byte {
	recycle(done)
	o.mu.Lock()
	defer o.mu.Unlock()
	if a := o.spent; a != nil { // done's frames' bytes, written
		o.spent = nil
		if cap(*a) <= maxArena {
			*a = (*a)[:0]
			frameArenas.Put(a)
		}
	}
	n := o.sendable()
	if n == 0 {
		o.writing = false
		if len(o.frames) == 0 {
			for _, c := range o.idlers {
				close(c)
			}
			o.idlers = nil
		}
		return nil
	}
	// The writer owns f's array (its whole capacity, for recycle) until
	// it hands it back; what stays queued moves to another.
	f := o.frames[:n]
	if rest := o.frames[n:]; len(rest) > 0 {
		// The arena stays with the queue: what stays queued is in it.
		o.frames = append(frameList(), rest...)
	} else {
		o.frames = nil
		o.spent, o.arena = o.arena, nil
	}
	o.ready = 0
	return f
}

// corkConn is a hijacked websocket connection whose writes can be held back
// (corked) and sent in one write when uncorked.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    *[]byte
}

var corkBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.corked {
		*c.buf = append(*c.buf, p...)
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *corkConn) cork() {
	c.mu.Lock()
	if !c.corked {
		c.corked = true
		c.buf = corkBufs.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// uncork writes what was held back, in one write, which fails when it
// has not gone within timeout (0: no bound).
func (c *corkConn) uncork(timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return nil
	}
	c.corked = false
	b := c.buf
	c.buf = nil
	var err error
	if len(*b) > 0 {
		if timeout > 0 {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(timeout))
		}
		_, err = c.Conn.Write(*b)
		if timeout > 0 { // the pings and the close write without one
			_ = c.Conn.SetWriteDeadline(time.Time{})
		}
	}
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		corkBufs.Put(b)
	}
	return err
}

// corkingWriter is the ResponseWriter handed to websocket.Accept: its
// Hijack gives the websocket a corkConn, and small read and write buffers
// in place of net/http's 4 KiB ones. An idle widget keeps its buffers for
// hours; visitor frames are small, and bufio reads and writes anything
// larger than its buffer directly. (The write buffer only gathers a frame's
// header and payload: whole turns are gathered by the corkConn.)
type corkingWriter struct {
	http.ResponseWriter
	conn *corkConn
}

// Buffer sizes of a visitor websocket.
const (
	wsReadBuffer  = 512
	wsWriteBuffer = 256
)

func (w *corkingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	w.conn = &corkConn{Conn: conn}
	bw := bufio.NewWriterSize(w.conn, wsWriteBuffer)
	// What the client sent after its request may be in net/http's buffer
	// already; it must stay buffered (Accept keeps only what is buffered).
	n := brw.Reader.Buffered()
	switch {
	case n == 0: // the usual case: the client waits for the 101
		return w.conn, bufio.NewReadWriter(bufio.NewReaderSize(conn, wsReadBuffer), bw), nil
	case n > wsReadBuffer:
		return w.conn, bufio.NewReadWriter(brw.Reader, bw), nil
	}
	early, _ := brw.Reader.Peek(n)
	br := bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), wsReadBuffer)
	if _, err := br.Peek(n); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return w.conn, bufio.NewReadWriter(br, bw), nil
}

// WriteHeader writes the response's status. A 101 Switching Protocols
// goes without the headers the route's middleware set for answers with a
// body or a document (X-Content-Type-Options, Referrer-Policy) and
// without the request id (X-Request-Id; the access line keeps it): a
// protocol switch uses none of them, a browser shows a page's script none
// of a websocket's, and every visitor's widget would parse them on every
// conversation. The 101 then carries the handshake's headers and Date, as
// the bench's reference server's. A refused upgrade (an ordinary answer)
// keeps them.
func (w *corkingWriter) WriteHeader(code int) {
	if code == http.StatusSwitchingProtocols {
		h := w.ResponseWriter.Header()
		delete(h, "X-Content-Type-Options")
		delete(h, "Referrer-Policy")
		delete(h, requestIDHeader)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *corkingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
