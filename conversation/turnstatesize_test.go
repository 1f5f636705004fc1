package conversation

import (
	"testing"
	"unsafe"
)

// TestTurnStateSizeClass: a turn's state is one allocation a turn, and
// the runtime rounds it up to its size class (2,048, 2,304, 2,688 bytes
// and so on): it must stay within 2,304. It was 2,520 bytes, 2,688 a turn,
// with a room of its own for the caller's entries besides the step's; the
// caller's entries now go at the start of the step's room, where the
// step's first run puts them anyway.
func TestTurnStateSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(turnState{}); n > 2304 {
		t.Errorf("turnState is %d bytes, want at most 2,304 (its size class)", n)
	}
}
