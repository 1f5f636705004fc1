package protocol

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/race"
)

// TestTurnFramesAllocations: what a turn's frames cost to decode (the
// visitor's) and to encode (the server's), one frame each a turn or more;
// docs/benchmarks.md, "serve's start, the seventh round". The counts are
// encoding/json's own (its decode state, the strings decoded) and the
// frame made; the record read into is kept from frame to frame.
func TestTurnFramesAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	decodes := []struct {
		in   string
		want float64
	}{
		{`{"type":"start","playbook":"qualify","page":"https://example.com/pricing","locale":"en"}`, 8},
		{`{"type":"message","id":"m2","text":"visitor7@acme7.com"}`, 7},
		{`{"type":"button","id":"m1","value":"Talk to sales","label":"Talk to sales"}`, 8},
		{`{"type":"ping"}`, 4},
	}
	for _, d := range decodes {
		in := []byte(d.in)
		if n := testing.AllocsPerRun(100, func() { _, _ = DecodeVisitor(true, in) }); n > d.want {
			t.Errorf("decoding %s: %v allocations, want at most %v", d.in, n, d.want)
		}
	}
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	encodes := []struct {
		f    Frame
		want float64
	}{
		{&Welcome{Token: "c1.exp.sig", Conversation: "c1", Playbook: "qualify", Bot: Bot{Name: "Ada"}, Locale: "en", Status: StatusWaiting}, 1},
		{&Ack{ID: "m1", Entry: "1732262400000-0"}, 1},
		{&EntryFrame{Entry: Entry{ID: "1732262400000-1", From: "bot", Kind: "message", Text: "How many employees?",
			Buttons: []Button{{"1-10", "1-10"}, {"201+", "201+"}}, Input: "choice", At: at}}, 2}, // the frame, the time's text
		{&Status{Status: StatusWaiting}, 1},
	}
	for _, e := range encodes {
		if n := testing.AllocsPerRun(100, func() { _, _ = Encode(e.f) }); n > e.want {
			t.Errorf("encoding a %s frame: %v allocations, want at most %v", e.f.FrameType(), n, e.want)
		}
	}
}
