package conversation

import (
	"testing"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/protocol"
)

var statusSink *protocol.Status

// TestStatusFrameAllocations: the status frame a turn ends with costs no
// allocation while the bot talks (no outcome yet); an outcome gets a
// frame of its own. The frames say the same either way.
func TestStatusFrameAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	// Kept, as Push keeps a frame: a frame that did not escape could live
	// on the stack.
	n := testing.AllocsPerRun(100, func() { statusSink = statusFrame(engine.StatusWaiting, "") })
	if n > 0 {
		t.Fatalf("%v allocations a status frame, want 0", n)
	}
	for _, c := range []struct {
		st      engine.Status
		outcome string
	}{{engine.StatusWaiting, ""}, {engine.StatusHandoff, ""}, {engine.StatusEnded, "lead"}, {"later", ""}} {
		got, err := protocol.Encode(statusFrame(c.st, c.outcome))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := protocol.Encode(&protocol.Status{Status: string(c.st), Outcome: c.outcome})
		if string(got) != string(want) {
			t.Fatalf("status %q %q: %s, want %s", c.st, c.outcome, got, want)
		}
	}
}
