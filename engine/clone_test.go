package engine

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestSessionCloneSharesNothing: changing anything reachable from a clone
// (vars nested in lists and maps, variants, the visitor's UTM) leaves the
// original as it was, and a clone equals its original.
func TestSessionCloneSharesNothing(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	orig := &Session{ID: "c1", Status: StatusWaiting, Card: 3, Turn: 2,
		Vars: map[string]any{"email": "a@b.co", "size": 12, "budget": 1500.5, "ok": true, "none": nil, "when": at,
			"list": []any{"x", map[string]any{"deep": []any{1.0}}}, "map": map[string]any{"k": []any{"v"}}},
		Variants:  map[string]string{"exp": "a"},
		Visitor:   Visitor{ID: "v1", UTM: map[string]string{"source": "ads"}},
		StartedAt: at, UpdatedAt: at,
	}
	keep, _ := json.Marshal(orig)
	c, ok := orig.Clone()
	if !ok {
		t.Fatal("Clone refused plain JSON values")
	}
	if !reflect.DeepEqual(c, orig) {
		t.Fatalf("clone %+v differs from %+v", c, orig)
	}
	c.Vars["email"] = "changed"
	c.Vars["list"].([]any)[1].(map[string]any)["deep"].([]any)[0] = 2.0
	c.Vars["map"].(map[string]any)["k"].([]any)[0] = "w"
	c.Variants["exp"] = "b"
	c.Visitor.UTM["source"] = "mail"
	c.Turn = 9
	if now, _ := json.Marshal(orig); string(now) != string(keep) {
		t.Errorf("changing the clone changed the original:\n%s\nwas\n%s", now, keep)
	}
}

// TestSessionCloneRefusesUnknownValues: a var of a type Clone cannot copy
// safely (here a []string an expression might return) is refused, not
// shared.
func TestSessionCloneRefusesUnknownValues(t *testing.T) {
	s := &Session{Vars: map[string]any{"tags": []string{"a"}}}
	if _, ok := s.Clone(); ok {
		t.Fatal("Clone accepted a []string it would share")
	}
	s = &Session{Vars: map[string]any{"deep": []any{[]string{"a"}}}}
	if _, ok := s.Clone(); ok {
		t.Fatal("Clone accepted a []string nested in a list")
	}
}

// BenchmarkSessionCopy compares what a cached turn pays for its own copy
// of the session: Clone against decoding the stored JSON (what the Redis
// store's cache did before).
func BenchmarkSessionCopy(b *testing.B) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	s := &Session{ID: "c1", Playbook: "qualify", Version: "c11ec78da57f2b1e8e6b3f0c3c1f8a4ed2b6b0b39c7d5a1e4f2a6c9d8e7b1a30",
		Status: StatusWaiting, Card: 4, Locale: "en", Turn: 4,
		Vars:    map[string]any{"email": "visitor1@acme1.com", "size": "51-200", "score": 0},
		Visitor: Visitor{ID: "bench-1", Page: "/bench", Language: "en"}, StartedAt: at, UpdatedAt: at}
	data, _ := json.Marshal(s)
	b.Run("clone", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			if _, ok := s.Clone(); !ok {
				b.Fatal("refused")
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var d Session
			if err := json.Unmarshal(data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
