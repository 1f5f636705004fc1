package conversation

import (
	"strconv"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// keptFrames is a widget's Frames that keeps what is pushed, as a
// connection's outbox does until the frames are written.
type keptFrames struct{ frames []protocol.Frame }

func (k *keptFrames) Push(f protocol.Frame) { k.frames = append(k.frames, f) }
func (k *keptFrames) Flush()                {}

// TestDeliverAllocations: a turn's entries go to the visitor as frames
// made in one allocation, not one a frame; each frame still carries its
// own entry, in order.
func TestDeliverAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	out := &keptFrames{frames: make([]protocol.Frame, 0, 1024)}
	v := &Widget{out: out, conv: "c1"}
	at := time.UnixMilli(1800000000000).UTC()
	n := 0
	turn := func() []store.Entry {
		n++
		id := strconv.Itoa(n)
		return []store.Entry{
			{ID: id + "-0", From: "visitor", Kind: "message", Text: "visitor7@acme7.com", ClientID: "m" + id, At: at},
			{ID: id + "-1", From: "bot", Kind: "message", Card: "size", Text: "How many employees?", Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}}, At: at},
			{ID: id + "-2", From: "bot", Kind: "message", Card: "size", Text: "Thanks!", At: at},
		}
	}
	turns := make([][]store.Entry, 101)
	for i := range turns {
		turns[i] = turn()
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		out.frames = out.frames[:0]
		v.deliver(turns[i])
		i++
	})
	// 4 before: one a frame, and the wire's copy of the buttons, which
	// stays.
	if allocs > 2 {
		t.Errorf("%v allocations to deliver a turn's three entries, want at most 2", allocs)
	}
	last := turns[i-1]
	if len(out.frames) != len(last) {
		t.Fatalf("%d frames, want %d", len(out.frames), len(last))
	}
	for j, f := range out.frames {
		if e := f.(*protocol.EntryFrame).Entry; e.ID != last[j].ID || e.Text != last[j].Text {
			t.Fatalf("frame %d: entry %s %q, want %s %q", j, e.ID, e.Text, last[j].ID, last[j].Text)
		}
	}
}

// encodedFrames is a widget's Frames that is done with a frame when Push
// returns, as serve's connection is (it encodes the frame at once): it
// keeps only what it read of each.
type encodedFrames struct{ ids, texts []string }

func (e *encodedFrames) Push(f protocol.Frame) {
	if ef, ok := f.(*protocol.EntryFrame); ok {
		e.ids = append(e.ids, ef.Entry.ID)
		e.texts = append(e.texts, ef.Entry.Text)
	}
}
func (e *encodedFrames) Flush()         {}
func (e *encodedFrames) EncodesOnPush() {}

// TestDeliverToAnEncoderAllocations: a Frames that encodes each frame as
// it is pushed (FrameEncoder) is given the widget's own frame, reused, so
// a turn's entries go out with no frames made for them; each is still
// its own entry, in order.
func TestDeliverToAnEncoderAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	out := &encodedFrames{ids: make([]string, 0, 1024), texts: make([]string, 0, 1024)}
	v := &Widget{out: out, conv: "c1"}
	at := time.UnixMilli(1800000000000).UTC()
	turns := make([][]store.Entry, 101)
	for n := range turns {
		id := strconv.Itoa(n + 1)
		turns[n] = []store.Entry{
			{ID: id + "-0", From: "visitor", Kind: "message", Text: "visitor7@acme7.com", ClientID: "m" + id, At: at},
			{ID: id + "-1", From: "bot", Kind: "message", Card: "size", Text: "How many employees?", Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}}, At: at},
			{ID: id + "-2", From: "bot", Kind: "message", Card: "size", Text: "Thanks " + id, At: at},
		}
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		out.ids, out.texts = out.ids[:0], out.texts[:0]
		v.deliver(turns[i])
		i++
	})
	// 2 before: the turn's frames, and the wire's copy of the buttons,
	// which stays.
	if allocs > 1 {
		t.Errorf("%v allocations to deliver a turn's three entries, want at most 1", allocs)
	}
	last := turns[i-1]
	if len(out.ids) != len(last) {
		t.Fatalf("%d frames, want %d", len(out.ids), len(last))
	}
	for j := range last {
		if out.ids[j] != last[j].ID || out.texts[j] != last[j].Text {
			t.Fatalf("frame %d: entry %s %q, want %s %q", j, out.ids[j], out.texts[j], last[j].ID, last[j].Text)
		}
	}
	if v.frame.Entry.ID != "" || v.frame.Entry.Text != "" {
		t.Errorf("the widget's frame still holds entry %s %q after its push", v.frame.Entry.ID, v.frame.Entry.Text)
	}
}
