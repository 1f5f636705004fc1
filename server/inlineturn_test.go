package server_test

import (
	"testing"

	"github.com/playbook-dev/playbook/server"
)

// TestChatTurnsRunOnTheReadLoop: a connection's first frame (the start,
// or a resume) runs on a turn worker, so that an idle widget's read loop
// keeps a small stack; the frames after it, of a visitor who is chatting,
// run on the read loop's own goroutine: no hand-off to a worker and back,
// two goroutine switches less a turn (docs/benchmarks.md, "A chat's turns
// on the read loop").
func TestChatTurnsRunOnTheReadLoop(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/bench")
	c := dial(t, ts)
	before := server.FramesHandedOff()
	c.start("qualify")
	c.bot("Hi! What brings you here?")
	if n := server.FramesHandedOff() - before; n != 1 {
		t.Fatalf("the start: %d frames handed to a worker, want 1", n)
	}
	c.settle()
	before = server.FramesHandedOff()
	twoTurns(t, c)
	if n := server.FramesHandedOff() - before; n != 0 {
		t.Fatalf("%d frames were handed to a worker for two turns and a ping, want 0", n)
	}
}
