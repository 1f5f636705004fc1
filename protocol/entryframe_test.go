package protocol

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/race"
)

// genericEntryFrame is an entry frame as encoding/json writes it (what
// appendEncode wrote for every frame before appendEntryFrame).
func genericEntryFrame(t testing.TB, f *EntryFrame) []byte {
	t.Helper()
	body, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(`{"type":"entry",`), body[1:]...)
}

// checkEntryFrame fails t unless Encode and AppendEncode write f as
// encoding/json does, byte for byte (or both fail).
func checkEntryFrame(t testing.TB, f *EntryFrame) {
	t.Helper()
	_, jerr := json.Marshal(f)
	got, err := Encode(f)
	if jerr != nil {
		if err == nil {
			t.Fatalf("Encode(%+v) = %s, want an error as encoding/json's (%v)", f.Entry, got, jerr)
		}
		return
	}
	if err != nil {
		t.Fatalf("Encode(%+v): %v", f.Entry, err)
	}
	want := genericEntryFrame(t, f)
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode(%+v)\n got %s\nwant %s", f.Entry, got, want)
	}
	app, err := AppendEncode([]byte("x"), f)
	if err != nil || !bytes.Equal(app, append([]byte("x"), want...)) {
		t.Fatalf("AppendEncode(%+v) = %s, %v; want x%s", f.Entry, app, err, want)
	}
}

// TestEntryFrameAsJSON: an entry frame is written as encoding/json writes
// it, escapes, omitted fields, data and times of every kind included.
func TestEntryFrameAsJSON(t *testing.T) {
	at := time.Date(2026, 11, 22, 8, 0, 0, 123000000, time.UTC)
	paris := time.FixedZone("CET", 3600)
	odd := time.FixedZone("LMT", 561) // an offset with seconds
	entries := []Entry{
		{},
		{ID: "1732262400000-1", From: "bot", Kind: "message", Text: "How many employees?",
			Buttons: []Button{{"1-10", "1-10"}, {"201+", "201+"}}, Input: "choice", Author: "Ada", At: at},
		{From: "visitor", Kind: "message", Text: "visitor7@acme7.com", ClientID: "m2", At: at},
		{From: "bot", Kind: "message", Text: "Links", Links: []Link{{"Docs", "https://example.com/a?b=1&c=<2>"}}, Image: "https://example.com/i.png", Card: "hello", At: at},
		{From: "bot", Kind: "message", Buttons: []Button{}, Links: []Link{}, At: at},
		{From: "system", Kind: "handoff", Data: map[string]any{"team": "sales", "wait_s": 60}, At: at},
		{From: "system", Kind: "end", Data: map[string]any{}, At: at},
		{From: "visitor", Text: `quote " backslash \ <b>&amp;</b>`, At: at},
		{From: "visitor", Text: "tab\tnew line\nreturn\rbell\x07 del\x7f", At: at},
		{From: "visitor", Text: "héllo wörld … 日本語 😀", At: at},
		{From: "visitor", Text: "line sep \u2028 para sep \u2029", At: at},
		{From: "visitor", Text: "bad utf-8 \xff\xfe and \xe2\x82", At: at},
		{From: "visitor", Text: "\b\f\x00", At: at},
		{From: "bot", Kind: "message", Text: "local", At: at.In(paris)},
		{From: "bot", Kind: "message", Text: "odd zone", At: at.In(odd)},
		{From: "bot", Kind: "message", Text: "whole seconds", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{From: "bot", Kind: "message", Text: "nanoseconds", At: time.Date(2026, 1, 2, 3, 4, 5, 1, time.UTC)},
		{From: "bot", Kind: "message", Text: "far", At: time.Date(12026, 1, 2, 3, 4, 5, 0, time.UTC)},
		{From: "bot", Kind: "message", Text: "before year 0", At: time.Date(-1, 1, 2, 3, 4, 5, 0, time.UTC)},
		{From: "bot", Kind: "message", Text: "monotonic", At: time.Now()},
		{From: strings.Repeat("a", 300), Kind: strings.Repeat("<", 100), At: at},
	}
	for _, e := range entries {
		checkEntryFrame(t, &EntryFrame{Entry: e})
	}
}

// FuzzEntryFrame: whatever the strings and the time, an entry frame is
// written as encoding/json writes it.
func FuzzEntryFrame(f *testing.F) {
	f.Add("bot", "message", "How many employees?", "1-10", "choice", int64(1732262400123), 0)
	f.Add("visitor", "", "é <&> \u2028 \xff", "", "", int64(-62167219200001), 3600)
	f.Add("system", "end", "\x00\x1f\"\\", "a\tb", "x", int64(253402300800000), 561)
	f.Fuzz(func(t *testing.T, from, kind, text, button, input string, ms int64, offset int) {
		at := time.UnixMilli(ms).In(time.FixedZone("Z", offset%(26*3600)))
		e := Entry{ID: text, From: from, Kind: kind, Text: text, Input: input, Image: button, Author: from,
			ClientID: kind, Card: input, At: at}
		if button != "" {
			e.Buttons = []Button{{button, text}, {text, button}}
			e.Links = []Link{{text, button}}
		}
		checkEntryFrame(t, &EntryFrame{Entry: e})
	})
}

// TestEntryFrameAllocations: an entry frame is appended without an
// allocation (its time's text included); docs/benchmarks.md, "Entry
// frames written by hand (issue 13, fifteenth round)".
func TestEntryFrameAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	f := &EntryFrame{Entry: Entry{ID: "1732262400000-1", From: "bot", Kind: "message", Text: "How many employees?",
		Buttons: []Button{{"1-10", "1-10"}, {"201+", "201+"}}, Input: "choice", Author: "Ada",
		At: time.Date(2026, 11, 22, 8, 0, 0, 123000000, time.UTC)}}
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf, _ = AppendEncode(buf[:0], f) }); n != 0 {
		t.Errorf("appending an entry frame: %v allocations, want 0", n)
	}
}

// BenchmarkEntryFrame appends a bot's question with two buttons.
func BenchmarkEntryFrame(b *testing.B) {
	f := &EntryFrame{Entry: Entry{ID: "1732262400000-1", From: "bot", Kind: "message", Text: "How many employees?",
		Buttons: []Button{{"1-10", "1-10"}, {"201+", "201+"}}, Input: "choice", Author: "Ada",
		At: time.Date(2026, 11, 22, 8, 0, 0, 123000000, time.UTC)}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendEncode(buf[:0], f)
	}
}
