package bounded

import (
	"fmt"
	"testing"
)

func TestMapBound(t *testing.T) {
	m := New[string, int](3)
	for i := range 10 {
		m.Put(fmt.Sprint(i), i)
		if m.Len() > 3 {
			t.Fatalf("after %d puts: %d entries, at most 3", i+1, m.Len())
		}
	}
	if m.Len() != 3 {
		t.Fatalf("%d entries, want 3", m.Len())
	}
	if v, ok := m.Get("9"); !ok || v != 9 {
		t.Fatalf("the last put: %d %v", v, ok)
	}
	// Replacing a key held drops nothing.
	m.Put("9", 90)
	if m.Len() != 3 {
		t.Fatalf("replacing a key: %d entries, want 3", m.Len())
	}
}

func TestMapConditional(t *testing.T) {
	m := New[string, int](10)
	newer := func(v int) func(int) bool { return func(old int) bool { return old <= v } }
	m.PutIf("a", 5, newer(5))
	m.PutIf("a", 3, newer(3))
	if v, _ := m.Get("a"); v != 5 {
		t.Fatalf("an older value replaced a newer one: %d", v)
	}
	m.PutIf("a", 7, newer(7))
	if v, _ := m.Get("a"); v != 7 {
		t.Fatalf("a newer value was refused: %d", v)
	}
	m.DeleteIf("a", func(v int) bool { return v == 5 })
	if _, ok := m.Get("a"); !ok {
		t.Fatal("DeleteIf deleted a value its test refused")
	}
	m.DeleteIf("a", func(v int) bool { return v == 7 })
	if _, ok := m.Get("a"); ok {
		t.Fatal("DeleteIf kept a value its test accepted")
	}
}

func TestNilMap(t *testing.T) {
	var m *Map[string, int]
	if New[string, int](0) != nil {
		t.Fatal("New(0) is not nil")
	}
	m.Put("a", 1)
	m.Delete("a")
	if _, ok := m.Get("a"); ok || m.Len() != 0 {
		t.Fatal("a nil map kept something")
	}
}
