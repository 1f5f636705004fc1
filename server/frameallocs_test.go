package server

import (
	"context"
	"log/slog"
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/protocol"
)

// TestFrameAllocations (issue 13, eleventh round): handing a visitor's
// frame to a turn worker (every turn's) costs no allocation of its own:
// what handleFrame allocates is what decoding and handling the frame
// allocate, done in place. A binary frame, refused, on a closed
// connection: decoded, its error frame encoded, nothing written.
func TestFrameAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	v := &visitorConn{log: slog.Default(), done: make(chan struct{})}
	close(v.done)
	ctx := context.Background()
	data := []byte("binary")
	inPlace := testing.AllocsPerRun(200, func() {
		if _, fe := protocol.DecodeVisitor(false, data); fe != nil {
			v.Push(fe)
		}
	})
	handed := testing.AllocsPerRun(200, func() { v.handleFrame(ctx, false, data) })
	if handed != inPlace {
		t.Fatalf("%v allocations a frame handed to a worker, %v in place: want the same", handed, inPlace)
	}
}
