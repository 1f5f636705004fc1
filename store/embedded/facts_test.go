package embedded

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
)

// The funnel facts' codec writes what encoding/json writes, byte for byte,
// and reads back what encoding/json reads (and refuses what it refuses).
func TestFactsCodecIsEncodingJSON(t *testing.T) {
	names := []string{"started", "card:email", "answer:size", "a\"b", "x<y", "é", "tab\t", "", "a,b", "a:b", "a\\\\b"}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		m := map[string]int64{}
		for range r.IntN(6) {
			m[names[r.IntN(len(names))]+fmt.Sprint(r.IntN(3))] = r.Int64N(1<<50) - 1<<49
		}
		if i%7 == 0 {
			m["only plain"] = 0
		}
		want, _ := json.Marshal(m)
		got, err := appendFacts(nil, m)
		if err != nil || string(got) != string(want) {
			t.Fatalf("appendFacts(%v) = %s, %v; json: %s", m, got, err, want)
		}
		back := map[string]int64{}
		if err := parseFacts(got, back); err != nil || !maps.Equal(back, m) {
			t.Fatalf("parseFacts(%s) = %v, %v; want %v", got, back, err, m)
		}
	}
	for _, in := range []string{`{}`, `{"a":1}`, `{"a": 1}`, `{"a":01}`, `{"a":+1}`, `{"a":-0}`, `{"a":1.5}`, `{"a":1,}`,
		`{"a":1,"b":2}`, `{"a\"b":3}`, `{"a\\b":3}`, `{"a":1 }`, `{"a":99999999999999999999}`, `{`, `}{`, `{"a"}`, `{"a":}`, `{,}`, `null`, `{"a":"1"}`} {
		want := map[string]int64{}
		werr := json.Unmarshal([]byte(in), &want)
		got := map[string]int64{}
		gerr := parseFacts([]byte(in), got)
		if (werr == nil) != (gerr == nil) || werr == nil && !maps.Equal(got, want) {
			t.Errorf("parseFacts(%s) = %v, %v; encoding/json: %v, %v", in, got, gerr, want, werr)
		}
	}
}
