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

// ackedFrames is a FrameEncoder that keeps what it read of each ack.
type ackedFrames struct{ acks []protocol.Ack }

func (a *ackedFrames) Push(f protocol.Frame) {
	if ack, ok := f.(*protocol.Ack); ok {
		a.acks = append(a.acks, *ack)
	}
}
func (a *ackedFrames) Flush()         {}
func (a *ackedFrames) EncodesOnPush() {}

// TestAckToAnEncoderAllocations: a turn's ack goes to a FrameEncoder in
// a pooled frame, not one made a turn; each ack says its turn's message,
// first entry and whether it was a duplicate.
func TestAckToAnEncoderAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	out := &ackedFrames{acks: make([]protocol.Ack, 0, 1024)}
	v := &Widget{out: out, conv: "c1"}
	results := make([]store.Result, 101)
	ids := make([]string, len(results))
	for i := range results {
		ids[i] = "m" + strconv.Itoa(i)
		results[i] = store.Result{Entries: []store.Entry{{ID: strconv.Itoa(i) + "-0"}}, Duplicate: i%2 == 1}
	}
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		v.pushAck(ids[i], results[i])
		i++
	})
	// 1 before: the ack.
	if allocs > 0 {
		t.Errorf("%v allocations to ack a turn, want 0", allocs)
	}
	for j, a := range out.acks[len(out.acks)-10:] {
		k := i - 10 + j
		if want := (protocol.Ack{ID: ids[k], Entry: strconv.Itoa(k) + "-0", Duplicate: k%2 == 1}); a != want {
			t.Fatalf("ack %d: %+v, want %+v", k, a, want)
		}
	}
	// Any other Frames is given an ack of its own, which it may keep.
	kept := &keptFrames{}
	v.out = kept
	v.pushAck("m1", store.Result{})
	v.pushAck("m2", store.Result{Entries: []store.Entry{{ID: "5-0"}}})
	if len(kept.frames) != 2 || *kept.frames[0].(*protocol.Ack) != (protocol.Ack{ID: "m1"}) || *kept.frames[1].(*protocol.Ack) != (protocol.Ack{ID: "m2", Entry: "5-0"}) {
		t.Fatalf("kept %+v %+v", kept.frames[0], kept.frames[1])
	}
}
