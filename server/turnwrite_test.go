package server_test

import (
	"testing"

	"github.com/playbook-dev/playbook/server"
)

// TestTurnFramesGoOutFromTheTurnsGoroutine: the frames a visitor's turn
// causes (the ack, the entries, the status; a pong) are written by the
// goroutine that handled the visitor's frame, which holds a grown stack:
// no writer is handed to another worker for them, one goroutine switch
// less a turn (docs/benchmarks.md, "serve's own CPU per turn").
func TestTurnFramesGoOutFromTheTurnsGoroutine(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/bench")
	c := dial(t, ts)
	c.start("qualify")
	c.bot("Hi! What brings you here?")
	c.settle()
	before := server.WritersHandedOff()
	twoTurns(t, c)
	if n := server.WritersHandedOff() - before; n != 0 {
		t.Fatalf("%d writers were handed to a worker for two turns and a ping, want 0", n)
	}
}

// twoTurns takes the bench playbook's conversation, past its greeting, two
// turns on (a button, then a message), and waits until c is settled.
func twoTurns(t *testing.T, c *client) {
	t.Helper()
	c.send(map[string]any{"type": "button", "id": "m1", "value": "Talk to sales", "label": "Talk to sales"})
	if ack := c.next("ack"); ack["id"] != "m1" {
		t.Fatalf("ack = %v", ack)
	}
	c.bot("What's your work email?")
	c.say("m2", "ana@globex.com")
	c.bot("How many employees?")
	c.settle()
}
