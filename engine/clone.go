package engine

import (
	"encoding/json"
	"maps"
	"time"
)

// Clone returns a deep copy of s that shares nothing mutable with it, so
// that a store may keep a session in memory and hand each turn its own
// copy (cheaper than decoding the JSON again). ok is false when a var
// holds a value Clone cannot vouch for (anything but nil, strings,
// numbers, booleans, json.Number, time.Time, and []any and map[string]any
// of those): the caller then keeps the JSON instead.
func (s *Session) Clone() (c *Session, ok bool) {
	if s == nil {
		return nil, true
	}
	cp := *s
	if s.Vars != nil {
		cp.Vars = make(map[string]any, len(s.Vars)+2) // two spare slots, as NewSession
		for k, v := range s.Vars {
			cv, ok := cloneVar(v)
			if !ok {
				return nil, false
			}
			cp.Vars[k] = cv
		}
	}
	cp.Variants = maps.Clone(s.Variants)
	cp.Visitor.UTM = maps.Clone(s.Visitor.UTM)
	return &cp, true
}

// Clonable reports whether Clone can copy s (every var of a type it
// knows), without copying it.
func (s *Session) Clonable() bool {
	if s == nil {
		return true
	}
	for _, v := range s.Vars {
		if !clonableVar(v) {
			return false
		}
	}
	return true
}

func clonableVar(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, float64, float32, int, int64, int32, json.Number, time.Time:
		return true
	case []any:
		for _, e := range x {
			if !clonableVar(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !clonableVar(e) {
				return false
			}
		}
		return true
	}
	return false
}

// cloneVar deep-copies a var's value, or reports that it cannot.
func cloneVar(v any) (any, bool) {
	switch x := v.(type) {
	case nil, string, bool, float64, float32, int, int64, int32, json.Number, time.Time:
		return v, true
	case []any:
		if x == nil {
			return x, true
		}
		out := make([]any, len(x))
		for i, e := range x {
			ce, ok := cloneVar(e)
			if !ok {
				return nil, false
			}
			out[i] = ce
		}
		return out, true
	case map[string]any:
		if x == nil {
			return x, true
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			ce, ok := cloneVar(e)
			if !ok {
				return nil, false
			}
			out[k] = ce
		}
		return out, true
	}
	return nil, false
}
