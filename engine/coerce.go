package engine

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// maxExactInt is the largest integer a float64 holds exactly (2^53).
const maxExactInt = 1 << 53

// coerce converts v to the Go type that stands for t (see the Type
// constants). nil stays nil: an unset var. With loose, values that arrive
// as JSON are read generously: numbers from numeric strings, strings from
// numbers and bools, dates from ISO strings. Without it only lossless
// conversions between number types are made (an int var takes an integral
// number).
func coerce(v any, t Type, loose bool) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t {
	case TypeAny, "":
		return v, nil
	case TypeString, TypeEmail, TypePhone, TypeURL:
		if s, ok := v.(string); ok {
			return s, nil
		}
		if loose {
			switch v.(type) {
			case float64, float32, int, int64, int32, bool, json.Number:
				return string(appendValue(nil, v)), nil
			}
		}
	case TypeNumber:
		if f, ok := toFloat(v); ok {
			return f, nil
		}
		if s, ok := v.(string); ok && loose {
			if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
				return f, nil
			}
		}
	case TypeInt:
		if i, ok := v.(int); ok {
			return i, nil
		}
		f, ok := toFloat(v)
		if !ok && loose {
			if s, isStr := v.(string); isStr {
				var err error
				f, err = strconv.ParseFloat(strings.TrimSpace(s), 64)
				ok = err == nil
			}
		}
		if ok {
			if f == math.Trunc(f) && math.Abs(f) <= maxExactInt {
				return int(f), nil
			}
			return nil, errors.New(describe(v) + " is not a whole number, but the var is an int")
		}
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if s, ok := v.(string); ok && loose {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b, nil
			}
		}
	case TypeDate:
		switch x := v.(type) {
		case time.Time:
			return dateOf(x), nil
		case string:
			if loose {
				if d, ok := parseISODate(x); ok {
					return d, nil
				}
			}
		}
	case TypeList:
		if l, ok := v.([]any); ok {
			return l, nil
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			out := make([]any, rv.Len())
			for i := range out {
				out[i] = rv.Index(i).Interface()
			}
			return out, nil
		}
	case TypeMap:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
			out := make(map[string]any, rv.Len())
			for it := rv.MapRange(); it.Next(); {
				out[it.Key().String()] = it.Value().Interface()
			}
			return out, nil
		}
	default:
		return v, nil
	}
	return nil, errors.New("the value is " + describe(v) + ", but the var is " + article(t))
}

func article(t Type) string {
	switch t {
	case TypeInt, TypeEmail, TypeAny:
		return "an " + string(t)
	case TypeURL:
		return "a URL"
	}
	return "a " + string(t)
}

// describe names v's type for error messages, with the value when short.
func describe(v any) string {
	if v == nil {
		return "nil"
	}
	name := typeName(reflect.TypeOf(v))
	switch v.(type) {
	case string, float64, int, bool:
		s := string(appendValue(nil, v))
		if _, isStr := v.(string); isStr {
			s = strconv.Quote(s)
		}
		if len(s) <= 40 {
			return name + " (" + s + ")"
		}
	}
	return name
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int16:
		return float64(x), true
	case int8:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint64:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}

// dateOf returns t's calendar day at midnight UTC.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// parseISODate reads "2006-01-02" or an RFC 3339 time (as JSON encodes a
// time.Time) and returns its day at midnight UTC.
func parseISODate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return dateOf(t), true
	}
	return time.Time{}, false
}

// normalizeVars puts vars decoded from JSON back into their declared Go
// types (an int var arrives as float64, a date as a string). Values already
// right cost one map lookup per int, number or date var.
func normalizeVars(p *Program, s *Session) {
	if len(s.Vars) == 0 {
		return
	}
	for _, d := range p.Vars {
		switch d.Type {
		case TypeInt, TypeNumber, TypeDate:
		default:
			continue
		}
		v, ok := s.Vars[d.Name]
		if !ok || v == nil {
			continue
		}
		switch v.(type) {
		case int:
			if d.Type == TypeInt {
				continue
			}
		case float64:
			if d.Type == TypeNumber {
				continue
			}
		case time.Time:
			if d.Type == TypeDate {
				continue
			}
		}
		if cv, err := coerce(v, d.Type, true); err == nil {
			s.Vars[d.Name] = cv
		}
	}
}

// Coerce converts v to the Go value that stands for type t, as a question's
// answer is saved (only lossless number conversions); nil stays nil.
func Coerce(v any, t Type) (any, error) { return coerce(v, t, false) }
