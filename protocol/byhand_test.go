package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/race"
)

// checkFrame fails t unless AppendEncode writes f as Encode does through
// encoding/json, byte for byte (or both fail), and Encode writes it as
// json.Marshal does after its type.
func checkFrame(t testing.TB, f Frame) {
	t.Helper()
	body, jerr := json.Marshal(f)
	want, err := Encode(f)
	app, aerr := AppendEncode([]byte("x"), f)
	if err != nil || jerr != nil {
		if err == nil || aerr == nil {
			t.Fatalf("Encode(%+v) = %s, %v; AppendEncode %s, %v; want errors as encoding/json's (%v)", f, want, err, app, aerr, jerr)
		}
		return
	}
	generic := append([]byte(`{"type":"`+f.FrameType()+`",`), body[1:]...)
	if len(body) == 2 {
		generic = []byte(`{"type":"` + f.FrameType() + `"}`)
	}
	if !bytes.Equal(want, generic) {
		t.Fatalf("Encode(%+v)\n got %s\nwant %s", f, want, generic)
	}
	if aerr != nil || !bytes.Equal(app, append([]byte("x"), want...)) {
		t.Fatalf("AppendEncode(%+v) = %s, %v; want x%s", f, app, aerr, want)
	}
}

// checkEntryFrame is checkFrame of an entry frame carrying e.
func checkEntryFrame(t testing.TB, e Entry) { t.Helper(); checkFrame(t, &EntryFrame{Entry: e}) }

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
		checkEntryFrame(t, e)
	}
}

// TestAckAndStatusAsJSON: the ack and the status frames are written as
// encoding/json writes them.
func TestAckAndStatusAsJSON(t *testing.T) {
	for _, f := range []Frame{
		&Ack{}, &Ack{ID: "m1"}, &Ack{ID: "m1", Entry: "1732262400000-0"}, &Ack{ID: "m1", Entry: "1-0", Duplicate: true},
		&Ack{ID: "<é\u2028\xff>", Entry: "\"\n"}, (*Ack)(nil),
		&Status{}, &Status{Status: "waiting"}, &Status{Status: "ended", Outcome: "lead"}, &Status{Status: "a&b", Outcome: "\t\u2029"},
		(*Status)(nil), (*EntryFrame)(nil),
	} {
		checkFrame(t, f)
	}
}

// FuzzAckAndStatus: whatever their strings, the ack and the status frames
// are written as encoding/json writes them.
func FuzzAckAndStatus(f *testing.F) {
	f.Add("m1", "1732262400000-0", true)
	f.Add("<é\u2028\xff>", "", false)
	f.Fuzz(func(t *testing.T, a, b string, dup bool) {
		checkFrame(t, &Ack{ID: a, Entry: b, Duplicate: dup})
		checkFrame(t, &Status{Status: a, Outcome: b})
	})
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
		checkEntryFrame(t, e)
	})
}

// TestEntryFrameAllocations: an entry frame is appended without an
// allocation (its time's text included); docs/benchmarks.md, "A turn's
// frames written by hand; the hub's followers counted, not walked".
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

// BenchmarkAckAndStatus appends a turn's ack and status frames.
func BenchmarkAckAndStatus(b *testing.B) {
	ack, status := &Ack{ID: "m12", Entry: "1732262400000-0"}, &Status{Status: "waiting"}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendEncode(buf[:0], ack)
		buf, _ = AppendEncode(buf, status)
	}
}

// TestFramesByHandWriteEveryField: the frames written by hand carry every
// field of their types, each set (an entry's Data aside: an entry with
// data goes to encoding/json), as encoding/json writes them. A field added
// to Entry, Button, Link, Ack or Status that appendByHand does not write
// fails here, rather than vanishing from what the widget gets.
func TestFramesByHandWriteEveryField(t *testing.T) {
	for _, f := range []Frame{&EntryFrame{}, &Ack{}, &Status{}} {
		fillEvery(t, reflect.ValueOf(f).Elem(), reflect.TypeOf(f).Elem().Name())
		if _, ok := appendByHand(nil, f); !ok {
			t.Fatalf("%T with every field set is left to encoding/json; want it written by hand", f)
		}
		checkFrame(t, f)
	}
}

// fillEvery sets every field of v, a struct, to a value that is not its
// zero (Entry.Data aside); path names v in failures.
func fillEvery(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	if v.Type() == reflect.TypeOf(time.Time{}) {
		v.Set(reflect.ValueOf(time.Date(2026, 12, 6, 9, 30, 0, 5, time.FixedZone("X", 5400))))
		return
	}
	for i := 0; i < v.NumField(); i++ {
		f, name := v.Field(i), path+"."+v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + ` "<&>"`)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Struct:
			fillEvery(t, f, name)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 2, 2))
			for j := 0; j < 2; j++ {
				fillEvery(t, f.Index(j), name)
			}
		case reflect.Map:
			if name != "EntryFrame.Entry.Data" {
				t.Fatalf("%s: a map the frames by hand do not know", name)
			}
		default:
			t.Fatalf("%s: a field of kind %s the frames by hand do not write", name, f.Kind())
		}
	}
}
