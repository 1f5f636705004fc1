package server

import (
	"context"
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/protocol"
)

// TestKeepAliveAllocations: a visitor connection's keep-alive, armed once
// a conversation, is its timer and the timer's function, nothing else
// (the timer and its lock are the connection's fields, not variables of
// their own the function keeps).
func TestKeepAliveAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	v := &visitorConn{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := testing.AllocsPerRun(100, func() {
		v.keepAlive(ctx, cancel).Stop()
	})
	// 4 before: the timer, its function, and the variables the function
	// kept (the timer's and its lock's).
	if n > 2 {
		t.Fatalf("%v allocations to arm a connection's keep-alive, want at most 2", n)
	}
}

var connSink *visitorConn

// TestVisitorOutboxAllocations: a visitor connection's outbox is part of
// the connection: opening it costs its writer's function alone.
func TestVisitorOutboxAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := testing.AllocsPerRun(100, func() {
		v := &visitorConn{}
		v.openOutbox(ctx, cancel)
		connSink = v
	})
	// 3 before: the connection, the outbox, its writer's function.
	if n > 2 {
		t.Fatalf("%v allocations for a connection and its outbox, want at most 2", n)
	}
}

// TestPushAllocations: the frames a visitor's turn pushes are encoded
// into the outbox's pooled bytes, which the writer gives back once they
// are written, not into a new slice a frame; each frame is its own bytes,
// in order, the same as protocol.Encode's.
func TestPushAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	v := &visitorConn{done: make(chan struct{})}
	v.out.write = func() {}
	v.out.hold()
	frames := []protocol.Frame{&protocol.Ack{ID: "m1", Entry: "1-0"}, &protocol.EntryFrame{Entry: protocol.Entry{ID: "1-1", From: "bot", Kind: "message", Text: "How <many>?"}}, &protocol.Status{Status: "waiting"}}
	var got [][]byte
	n := testing.AllocsPerRun(100, func() {
		for _, f := range frames {
			v.Push(f)
		}
		v.out.flushHere()
		list := v.out.next(nil)
		got = got[:0]
		for _, b := range list {
			got = append(got, append([]byte(nil), b...)) // read before given back
		}
		if v.out.next(list) != nil {
			t.Fatal("a second list while held")
		}
	})
	if len(got) != len(frames) {
		t.Fatalf("%d frames written, want %d", len(got), len(frames))
	}
	for i, f := range frames {
		want, err := protocol.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		if string(got[i]) != string(want) {
			t.Fatalf("frame %d: %s, want %s", i, got[i], want)
		}
	}
	// What encoding the frames allocates (the JSON encoder's own: the
	// entry's time), and the frames' copies the test makes, three; the
	// pushes nothing more (3 more before: a slice a frame).
	buf := make([]byte, 0, 4096)
	enc := testing.AllocsPerRun(100, func() {
		b := buf
		for _, f := range frames {
			b, _ = protocol.AppendEncode(b, f)
		}
	})
	if n > enc+3 {
		t.Fatalf("%v allocations for a turn's three frames, want at most %v (encoding them %v, the test's copies 3)", n, enc+3, enc)
	}
}

// The frames encoded into an outbox's arena keep their bytes while they
// are queued or being written: a flush that hands the writer only some of
// them leaves the arena with the queue, and the frames queued after it
// are written as they were encoded.
func TestOutboxArenaKeepsWhatIsQueued(t *testing.T) {
	o := newOutbox(func() {})
	o.hold()
	enc := func(id string) {
		if ok, err := o.encode(&protocol.Ack{ID: id}); !ok || err != nil {
			t.Fatalf("encode %s: %v %v", id, ok, err)
		}
	}
	want := func(id string) string { return `{"type":"ack","id":"` + id + `","duplicate":false}` }
	enc("a")
	enc("b")
	o.flush()
	enc("c")
	got := o.next(nil)
	enc("d")
	if len(got) != 2 || string(got[0]) != want("a") || string(got[1]) != want("b") {
		t.Fatalf("next = %q, want a, b", got)
	}
	if again := o.next(got); again != nil {
		t.Fatalf("next while held = %q, want nil", again)
	}
	for i := 0; i < 50; i++ { // arenas given back and taken again meanwhile
		o2 := newOutbox(func() {})
		o2.hold()
		_, _ = o2.encode(&protocol.Ack{ID: "zzzzzzzzzzzzzzzz"})
		o2.flushHere()
		o2.next(o2.next(nil))
	}
	o.release()
	rest := o.next(nil)
	if len(rest) != 2 || string(rest[0]) != want("c") || string(rest[1]) != want("d") {
		t.Fatalf("next after release = %q, want c, d", rest)
	}
	if again := o.next(rest); again != nil || o.arena != nil || o.spent != nil {
		t.Fatalf("after the last frames: next %q, arena %v, spent %v; want none", again, o.arena, o.spent)
	}
}
