package engine

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestFunnelTimesJSONIsTheMapsJSON: FunnelCounted.At is written as the map
// it was before (an older process reads it), and the map's JSON (a session
// stored before) reads back as the same times, sorted.
func TestFunnelTimesJSONIsTheMapsJSON(t *testing.T) {
	for _, m := range []map[string]int64{
		nil,
		{"asked|email": 1200},
		{"asked|b": -5, "asked|a": 1 << 50, "<&>": 0, "\xff": 7, "\u2028é": 3},
	} {
		want, err := json.Marshal(FunnelCounted{Facts: []string{"x"}, At: FunnelTimesOf(m)})
		if err != nil {
			t.Fatal(err)
		}
		old, err := json.Marshal(struct {
			Facts []string         `json:"f,omitempty"`
			At    map[string]int64 `json:"t,omitempty"`
		}{[]string{"x"}, m})
		if err != nil {
			t.Fatal(err)
		}
		if string(want) != string(old) {
			t.Errorf("FunnelCounted written as %s, the map's form is %s", want, old)
		}
		var back FunnelCounted
		var mapBack struct {
			At map[string]int64 `json:"t"`
		}
		if err := json.Unmarshal(old, &back); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(old, &mapBack); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back.At, FunnelTimesOf(mapBack.At)) || !slices.IsSortedFunc(back.At, func(a, b FunnelTime) int {
			return strings.Compare(a.Fact, b.Fact)
		}) {
			t.Errorf("%s read back as %v", old, back.At)
		}
	}
}

// TestFunnelTimesSetGetDelete: the times stay sorted, each fact once.
func TestFunnelTimesSetGetDelete(t *testing.T) {
	var ft FunnelTimes
	m := map[string]int64{}
	for i, f := range []string{"c", "a", "b", "a", "d"} {
		ft = ft.Set(f, int64(i))
		m[f] = int64(i)
	}
	ft = ft.Delete("b").Delete("zz")
	delete(m, "b")
	if !slices.Equal(ft, FunnelTimesOf(m)) {
		t.Errorf("times %v, want %v", ft, FunnelTimesOf(m))
	}
	for _, f := range slices.Sorted(maps.Keys(m)) {
		if got, ok := ft.Get(f); !ok || got != m[f] {
			t.Errorf("Get(%q) = %d, %v, want %d", f, got, ok, m[f])
		}
	}
	if _, ok := ft.Get("b"); ok {
		t.Error("a deleted time is still there")
	}
}
