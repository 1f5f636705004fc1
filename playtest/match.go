package playtest

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// Match reports whether got, a value from a session or a created record,
// matches want, a value written in a test file:
//   - maps match when every key of want is in got with a matching value
//     (got may have more keys);
//   - lists match element by element and must be as long;
//   - numbers compare by value whatever their type (3 == 3.0), and a number
//     matches a string that spells it ("2500");
//   - dates match a time written in YAML or a string in the form
//     2006-01-02 (at midnight UTC) or RFC 3339;
//   - nil matches only nil (an unset var).
func Match(want, got any) bool {
	if isNil(got) {
		return want == nil
	}
	switch w := want.(type) {
	case nil:
		return false
	case string:
		switch g := got.(type) {
		case string:
			return g == w
		case time.Time:
			if t, err := parseTime(w); err == nil {
				return t.Equal(g)
			}
			return false
		case time.Duration:
			d, err := engine.ParseDuration(w)
			return err == nil && d == g
		}
		if f, ok := toFloat(got); ok {
			return formatNumber(f) == strings.TrimSpace(w)
		}
		return false
	case bool:
		g, ok := got.(bool)
		return ok && g == w
	case time.Time:
		switch g := got.(type) {
		case time.Time:
			return g.Equal(w)
		case string:
			t, err := parseTime(g)
			return err == nil && t.Equal(w)
		}
		return false
	case map[string]any:
		gv := reflect.ValueOf(got)
		if gv.Kind() != reflect.Map || gv.Type().Key().Kind() != reflect.String {
			return false
		}
		for k, wv := range w {
			e := gv.MapIndex(reflect.ValueOf(k).Convert(gv.Type().Key()))
			if !e.IsValid() {
				if wv == nil {
					continue // absent and nil are the same
				}
				return false
			}
			if !Match(wv, e.Interface()) {
				return false
			}
		}
		return true
	case []any:
		gv := reflect.ValueOf(got)
		if gv.Kind() != reflect.Slice && gv.Kind() != reflect.Array {
			return false
		}
		if gv.Len() != len(w) {
			return false
		}
		for i, wv := range w {
			if !Match(wv, gv.Index(i).Interface()) {
				return false
			}
		}
		return true
	}
	if wf, ok := toFloat(want); ok {
		if gf, ok := toFloat(got); ok {
			return wf == gf
		}
		if gs, ok := got.(string); ok {
			return strings.TrimSpace(gs) == formatNumber(wf)
		}
		return false
	}
	return reflect.DeepEqual(want, got)
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map, reflect.Slice, reflect.Pointer, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

// toFloat converts any Go number (not a duration) to float64.
func toFloat(v any) (float64, bool) {
	if _, ok := v.(time.Duration); ok {
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		return rv.Float(), true
	}
	return 0, false
}

// formatNumber writes f without needless decimals: 2500, 2.5.
func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// Format writes v on one line the way a test file would say it: strings
// quoted, numbers without needless decimals, dates as 2006-01-02 (or RFC
// 3339 when not at midnight UTC), maps as {key: value} with sorted keys,
// lists as [a, b], nil as null.
func Format(v any) string {
	var b strings.Builder
	format(&b, v, 0)
	return b.String()
}

func format(b *strings.Builder, v any, depth int) {
	if depth > 20 {
		b.WriteString("…")
		return
	}
	if isNil(v) {
		b.WriteString("null")
		return
	}
	switch v := v.(type) {
	case string:
		b.WriteString(strconv.Quote(v))
		return
	case bool:
		b.WriteString(strconv.FormatBool(v))
		return
	case time.Time:
		b.WriteString(FormatTime(v))
		return
	case time.Duration:
		b.WriteString(FormatDuration(v))
		return
	case fmt.Stringer:
		b.WriteString(strconv.Quote(v.String()))
		return
	}
	if f, ok := toFloat(v); ok {
		b.WriteString(formatNumber(f))
		return
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		vals := map[string]any{}
		for it := rv.MapRange(); it.Next(); {
			k := fmt.Sprint(it.Key().Interface())
			keys = append(keys, k)
			vals[k] = it.Value().Interface()
		}
		slices.Sort(keys)
		b.WriteString("{")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k)
			b.WriteString(": ")
			format(b, vals[k], depth+1)
		}
		b.WriteString("}")
	case reflect.Slice, reflect.Array:
		b.WriteString("[")
		for i := range rv.Len() {
			if i > 0 {
				b.WriteString(", ")
			}
			format(b, rv.Index(i).Interface(), depth+1)
		}
		b.WriteString("]")
	default:
		fmt.Fprint(b, v)
	}
}

// FormatTime writes t as 2006-01-02 when it is midnight UTC, else RFC 3339.
func FormatTime(t time.Time) string {
	if t.Equal(t.UTC().Truncate(24 * time.Hour)) {
		return t.UTC().Format("2006-01-02")
	}
	return t.Format(time.RFC3339)
}

// FormatDuration writes d the way playbooks do: 2m, 1h30m, 45s, 2d.
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	if d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
