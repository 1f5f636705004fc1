package redis

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// oddStrings are the strings encoding/json escapes or rewrites: HTML's
// characters, quotes and backslashes, control characters, invalid UTF-8,
// U+2028 and U+2029, and other runes of 2, 3 and 4 bytes.
var oddStrings = []string{
	"", "plain", `a"b\c`, "<script>&amp;</script>", "\x00\x01\b\f\n\r\t\x1f\x7f",
	"\xff", "a\xc3", "\xed\xa0\x80", "line\u2028para\u2029", "é漢字🙂", "Ω\ufffd",
	"visitor1@acme1.com", "1-10", "201+", " ", "\u00a0", "null", "true",
}

func randString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return oddStrings[r.IntN(len(oddStrings))]
	}
	n := r.IntN(12)
	var b strings.Builder
	for range n {
		switch r.IntN(6) {
		case 0:
			b.WriteByte(byte(r.IntN(0x80)))
		case 1:
			b.WriteByte(byte(r.IntN(0x100))) // invalid UTF-8 at times
		case 2:
			b.WriteRune(rune(r.IntN(0x110000)))
		default:
			b.WriteByte(byte('a' + r.IntN(26)))
		}
	}
	return b.String()
}

var oddFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789e13,
	-1e-9, math.MaxFloat64, math.SmallestNonzeroFloat64, 2.5e-300, 1 << 53, 3.0000000000000004}

func randVar(r *rand.Rand, depth int) any {
	k := r.IntN(8)
	if depth > 2 && k >= 6 {
		k = 0
	}
	switch k {
	case 0:
		return randString(r)
	case 1:
		if r.IntN(2) == 0 {
			return oddFloats[r.IntN(len(oddFloats))]
		}
		return (r.Float64() - 0.5) * math.Pow(10, float64(r.IntN(50)-25))
	case 2:
		return r.IntN(2) == 0
	case 3:
		return r.IntN(1<<20) - 1<<19
	case 4:
		return nil
	case 5:
		if r.IntN(5) == 0 {
			return []any(nil)
		}
		return []any{}
	case 6:
		s := make([]any, r.IntN(4))
		for i := range s {
			s[i] = randVar(r, depth+1)
		}
		return s
	default:
		if r.IntN(6) == 0 {
			return map[string]any(nil)
		}
		m := map[string]any{}
		for range r.IntN(4) {
			m[randString(r)] = randVar(r, depth+1)
		}
		return m
	}
}

func randStringMap(r *rand.Rand) map[string]string {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return map[string]string{}
	}
	m := map[string]string{}
	for range 1 + r.IntN(20) { // more keys than appendSession's array
		m[randString(r)] = randString(r)
	}
	return m
}

func randTime(r *rand.Rand) time.Time {
	switch r.IntN(4) {
	case 0:
		return time.Time{}
	case 1:
		return time.UnixMilli(0) // t0 0: omitted, as encoding/json omits it
	case 2:
		return time.Unix(0, r.Int64N(1<<62)).In(time.FixedZone("x", 3600))
	}
	return time.Unix(0, -r.Int64N(1<<60))
}

func randSession(r *rand.Rand) *engine.Session {
	s := &engine.Session{
		ID: randString(r), Playbook: randString(r), Version: randString(r), Status: engine.Status(randString(r)),
		Card: r.IntN(100) - 10, Locale: randString(r), Turn: r.IntN(1000),
		Visitor: engine.Visitor{
			ID: randString(r), Name: randString(r), Email: randString(r), Phone: randString(r), Consent: r.IntN(2) == 0,
			Page: randString(r), Referrer: randString(r), Language: randString(r), Country: randString(r),
			Returning: r.IntN(2) == 0, Visits: r.IntN(5) - 1, UTM: randStringMap(r),
		},
		Variants: randStringMap(r), StartedAt: randTime(r), UpdatedAt: randTime(r),
	}
	if r.IntN(2) == 0 {
		s.Tries = r.IntN(4)
		s.Outcome, s.Timer, s.Call, s.Agent, s.FirstMessage = randString(r), randString(r), randString(r), randString(r), randString(r)
	}
	switch r.IntN(3) {
	case 0:
	case 1:
		s.Vars = map[string]any{}
	default:
		s.Vars = map[string]any{}
		for range r.IntN(20) {
			s.Vars[randString(r)] = randVar(r, 0)
		}
	}
	if r.IntN(2) == 0 {
		s.Funnel = &engine.FunnelCounted{}
		for range r.IntN(4) {
			s.Funnel.Facts = append(s.Funnel.Facts, randString(r))
		}
		if r.IntN(2) == 0 {
			at := map[string]int64{}
			for range r.IntN(20) {
				at[randString(r)] = r.Int64N(1<<40) - 1<<39
			}
			s.Funnel.At = engine.FunnelTimesOf(at)
		}
	}
	return s
}

func checkAppendSession(t *testing.T, sess *engine.Session) {
	t.Helper()
	want, werr := encodeSessionJSON(sess)
	got, gerr := appendSession([]byte("prefix"), sess)
	if (werr != nil) != (gerr != nil) {
		t.Fatalf("appendSession's error %v, encoding/json's %v", gerr, werr)
	}
	if werr != nil {
		return
	}
	if !bytes.HasPrefix(got, []byte("prefix")) || !bytes.Equal(got[len("prefix"):], want) {
		t.Fatalf("appendSession wrote\n%s\nencoding/json\n%s", got, want)
	}
}

// TestAppendSessionIsEncodingJSON: the session's stored form written by
// hand is encoding/json's bytes, for random sessions with odd strings
// (escapes, invalid UTF-8, unicode), numbers at encoding/json's format
// cut-offs, nested vars, maps larger than the encoder's key array, and
// vars of types it leaves to encoding/json.
func TestAppendSessionIsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 9))
	for range 3000 {
		checkAppendSession(t, randSession(r))
	}
	// Vars appendSession leaves to encoding/json: the same bytes, or the
	// same error.
	for _, v := range []any{int64(7), float32(1e-7), json.Number("12.5"), time.Date(2026, 12, 6, 1, 2, 3, 4, time.UTC),
		[]string{"a"}, map[string]string{"a": "b"}, math.NaN(), math.Inf(1), []any{math.Inf(-1)}, &engine.Visitor{Name: "x"}} {
		sess := randSession(r)
		sess.Vars = map[string]any{"x": v, "y": "<y>"}
		checkAppendSession(t, sess)
	}
	checkAppendSession(t, &engine.Session{})
}

// TestAppendSessionKnowsEveryField: a field added to engine.Session,
// Visitor or FunnelCounted must be written by appendSession too: this
// lists the fields it writes.
func TestAppendSessionKnowsEveryField(t *testing.T) {
	for typ, want := range map[reflect.Type]int{
		reflect.TypeFor[engine.Session]():       19,
		reflect.TypeFor[engine.Visitor]():       12,
		reflect.TypeFor[engine.FunnelCounted](): 2,
	} {
		if typ.NumField() != want {
			t.Errorf("%v has %d fields, appendSession writes %d: write the new ones (sessionenc.go)", typ, typ.NumField(), want)
		}
	}
}

// FuzzAppendSession: the same as encoding/json for any strings and
// numbers in the places a session has them.
func FuzzAppendSession(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s, s, 1.5, int64(3))
	}
	f.Fuzz(func(t *testing.T, a, b string, x float64, n int64) {
		sess := &engine.Session{
			Playbook: a, Version: b, Status: engine.Status(a), Locale: b, Outcome: a, FirstMessage: b,
			Vars:      map[string]any{a: x, b: a, "n": int(n), "l": []any{a, x, map[string]any{b: nil}}},
			Visitor:   engine.Visitor{Name: a, Page: b, UTM: map[string]string{a: b, b: a}},
			Variants:  map[string]string{b: a},
			Funnel:    &engine.FunnelCounted{Facts: []string{a, b}, At: engine.FunnelTimes{{Fact: a, Ms: n}}},
			StartedAt: time.UnixMilli(n), UpdatedAt: time.UnixMilli(n / 2),
		}
		checkAppendSession(t, sess)
	})
}

// TestAppendSessionAllocations: writing a session into a buffer with room
// allocates nothing (encoding/json: 9-16 allocations a session, its map
// iteration, reflect's copies of keys and values, its buffer).
func TestAppendSessionAllocations(t *testing.T) {
	sess := &engine.Session{
		Playbook: "qualify", Version: "c11ec78da57f2b1e8e6b3f0c3c1f8a4e", Status: engine.StatusWaiting, Card: 4, Locale: "en", Turn: 4,
		Vars:      map[string]any{"email": "visitor1@acme1.com", "score": 0, "size": "11-50", "ok": true, "n": 2.5},
		Visitor:   engine.Visitor{ID: "bench-1", Page: "/bench", Language: "en", UTM: map[string]string{"source": "ads"}},
		Variants:  map[string]string{"greeting": "b"},
		Funnel:    &engine.FunnelCounted{Facts: []string{"reached|size", "asked|size"}, At: engine.FunnelTimes{{Fact: "asked|size", Ms: 1200}}},
		StartedAt: time.Now(), UpdatedAt: time.Now(),
	}
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(100, func() { _, _ = appendSession(buf[:0], sess) }); n > 0 {
		t.Errorf("appendSession allocates %.1f times, want 0", n)
	}
}
