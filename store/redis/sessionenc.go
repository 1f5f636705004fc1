package redis

import (
	"math"
	"slices"
	"strconv"
	"sync"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/jsonstr"
)

// appendSession appends sess's stored form to b: encoding/json's bytes of
// storedSession exactly (TestAppendSessionIsEncodingJSON, FuzzAppendSession),
// written field by field instead of through reflection, with no allocation
// but b's growth. A var of a type it does not know (anything but nil,
// strings, bools, float64, int and []any and map[string]any of those; see
// engine.Session.Clone) sends the whole session through encoding/json.
//
// Keep it in step with engine.Session and storedSession: a new field of
// either fails TestAppendSessionIsEncodingJSON until it is written here.
func appendSession(b []byte, sess *engine.Session) ([]byte, error) {
	for _, v := range sess.Vars {
		if !plainVar(v, 0) {
			return appendSessionJSON(b, sess)
		}
	}
	b = append(b, `{"playbook":`...)
	b = jsonstr.Append(b, sess.Playbook)
	b = append(b, `,"version":`...)
	b = jsonstr.Append(b, sess.Version)
	b = append(b, `,"status":`...)
	b = jsonstr.Append(b, string(sess.Status))
	b = append(b, `,"card":`...)
	b = strconv.AppendInt(b, int64(sess.Card), 10)
	if sess.Tries != 0 {
		b = append(b, `,"tries":`...)
		b = strconv.AppendInt(b, int64(sess.Tries), 10)
	}
	b = append(b, `,"locale":`...)
	b = jsonstr.Append(b, sess.Locale)
	if sess.Outcome != "" {
		b = append(b, `,"outcome":`...)
		b = jsonstr.Append(b, sess.Outcome)
	}
	b = append(b, `,"turn":`...)
	b = strconv.AppendInt(b, int64(sess.Turn), 10)
	if len(sess.Vars) > 0 {
		b = append(b, `,"vars":`...)
		b = appendAnyMap(b, sess.Vars)
	}
	b = append(b, `,"visitor":`...)
	b = appendVisitor(b, &sess.Visitor)
	if len(sess.Variants) > 0 {
		b = append(b, `,"variants":`...)
		b = appendStringMap(b, sess.Variants)
	}
	b = appendOmitString(b, `,"timer":`, sess.Timer)
	b = appendOmitString(b, `,"call":`, sess.Call)
	b = appendOmitString(b, `,"agent":`, sess.Agent)
	b = appendOmitString(b, `,"first_message":`, sess.FirstMessage)
	if f := sess.Funnel; f != nil {
		b = append(b, `,"funnel":{`...)
		if len(f.Facts) > 0 {
			b = append(b, `"f":[`...)
			for i, x := range f.Facts {
				if i > 0 {
					b = append(b, ',')
				}
				b = jsonstr.Append(b, x)
			}
			b = append(b, ']')
		}
		if len(f.At) > 0 {
			if len(f.Facts) > 0 {
				b = append(b, ',')
			}
			b = append(b, `"t":`...)
			b = appendFunnelTimes(b, f.At)
		}
		b = append(b, '}')
	}
	if !sess.StartedAt.IsZero() {
		if ms := sess.StartedAt.UnixMilli(); ms != 0 {
			b = append(b, `,"t0":`...)
			b = strconv.AppendInt(b, ms, 10)
		}
	}
	if !sess.UpdatedAt.IsZero() {
		if ms := sess.UpdatedAt.UnixMilli(); ms != 0 {
			b = append(b, `,"t1":`...)
			b = strconv.AppendInt(b, ms, 10)
		}
	}
	return append(b, '}'), nil
}

// appendSessionJSON is appendSession through encoding/json (encodeSession).
func appendSessionJSON(b []byte, sess *engine.Session) ([]byte, error) {
	data, err := encodeSessionJSON(sess)
	if err != nil {
		return b, err
	}
	return append(b, data...), nil
}

func appendVisitor(b []byte, v *engine.Visitor) []byte {
	b = append(b, '{')
	n := len(b)
	b = appendOmitString(b, `,"id":`, v.ID)
	b = appendOmitString(b, `,"name":`, v.Name)
	b = appendOmitString(b, `,"email":`, v.Email)
	b = appendOmitString(b, `,"phone":`, v.Phone)
	if v.Consent {
		b = append(b, `,"consent":true`...)
	}
	b = appendOmitString(b, `,"page":`, v.Page)
	b = appendOmitString(b, `,"referrer":`, v.Referrer)
	b = appendOmitString(b, `,"language":`, v.Language)
	b = appendOmitString(b, `,"country":`, v.Country)
	if v.Returning {
		b = append(b, `,"returning":true`...)
	}
	if v.Visits != 0 {
		b = append(b, `,"visits":`...)
		b = strconv.AppendInt(b, int64(v.Visits), 10)
	}
	if len(v.UTM) > 0 {
		b = append(b, `,"utm":`...)
		b = appendStringMap(b, v.UTM)
	}
	if len(b) > n {
		// The first field's comma: dropped.
		copy(b[n:], b[n+1:])
		b = b[:len(b)-1]
	}
	return append(b, '}')
}

// appendOmitString appends the field (name: its comma, quoted name and
// colon) unless s is empty (omitempty).
func appendOmitString(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return jsonstr.Append(append(b, name...), s)
}

// plainVar reports whether appendVar writes v as encoding/json does
// (depth bounds the nesting; deeper goes through encoding/json).
func plainVar(v any, depth int) bool {
	switch x := v.(type) {
	case nil, string, bool, int:
		return true
	case float64:
		return !math.IsInf(x, 0) && !math.IsNaN(x) // encoding/json's error
	case []any:
		if depth > 16 {
			return false
		}
		for _, e := range x {
			if !plainVar(e, depth+1) {
				return false
			}
		}
		return true
	case map[string]any:
		if depth > 16 {
			return false
		}
		for _, e := range x {
			if !plainVar(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// appendVar appends v, a plainVar.
func appendVar(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return jsonstr.Append(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case float64:
		return appendJSONFloat(b, x)
	case []any:
		if x == nil {
			return append(b, "null"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendVar(b, e)
		}
		return append(b, ']')
	case map[string]any:
		if x == nil {
			return append(b, "null"...)
		}
		return appendAnyMap(b, x)
	}
	return b // not a plainVar: not called
}

// appendJSONFloat is encoding/json's float64 (floatEncoder): ES6's
// number to string, exponents not padded. f is finite.
func appendJSONFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	fmt := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		fmt = 'e'
	}
	b = strconv.AppendFloat(b, f, fmt, -1, 64)
	if fmt == 'e' {
		// e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// sortedKeys returns m's keys in encoding/json's order (bytewise), in
// keys (a caller's array, so a small map's keys need no allocation).
func sortedKeys[V any](keys []string, m map[string]V) []string {
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendMap writes m as encoding/json does: its keys sorted, each value
// by val.
func appendMap[V any](b []byte, m map[string]V, val func([]byte, V) []byte) []byte {
	var arr [16]string
	b = append(b, '{')
	for i, k := range sortedKeys(arr[:0], m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonstr.Append(b, k), ':')
		b = val(b, m[k])
	}
	return append(b, '}')
}

func appendAnyMap(b []byte, m map[string]any) []byte { return appendMap(b, m, appendVar) }

func appendStringMap(b []byte, m map[string]string) []byte {
	return appendMap(b, m, jsonstr.Append)
}

// appendFunnelTimes appends t as engine.FunnelTimes.MarshalJSON writes
// it: the object of the names (sorted) to the times.
func appendFunnelTimes(b []byte, t engine.FunnelTimes) []byte {
	b = append(b, '{')
	for i, x := range t {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(jsonstr.Append(b, x.Fact), ':')
		b = strconv.AppendInt(b, x.Ms, 10)
	}
	return append(b, '}')
}

// sessionBufs are the buffers commits encode their session into: a
// turn's buffer is reused once its script has answered (commitFolded).
var sessionBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// maxPooledSession bounds the buffers kept in sessionBufs.
const maxPooledSession = 64 << 10
