package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/file"
)

// eval runs e against the session's vars, the visitor and the world.
func (r *runner) eval(c *Card, e *Expr) (any, bool) {
	if e == nil || e.Prog == nil {
		r.fail(c, e, "an expression was not compiled")
		return nil, false
	}
	v, err := r.vm.Run(e.Prog, r.s.Vars)
	if err != nil {
		r.fail(c, e, "`"+e.Src+"`: "+exprMessage(err))
		return nil, false
	}
	return v, true
}

// cond evaluates a condition; nil counts as false.
func (r *runner) cond(c *Card, e *Expr) (bool, bool) {
	v, ok := r.eval(c, e)
	if !ok {
		return false, false
	}
	switch b := v.(type) {
	case bool:
		return b, true
	}
	return false, true // nothing, or a map field that is not a yes/no, is false
}

func exprMessage(err error) string {
	msg := err.Error()
	var fe *file.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	// Go's words for "a var has no value yet" mean nothing to a marketer.
	if strings.Contains(msg, "interface {} is nil") || strings.Contains(msg, "<nil>") {
		return "a var used here has no value yet; give it a `default:` or write `name ?? something`"
	}
	if m := conversionRE.FindStringSubmatch(msg); m != nil {
		return "a value is " + article(Type(PlainTypes(m[1]))) + " where " + article(Type(PlainTypes(m[2]))) + " is needed"
	}
	return PlainTypes(msg)
}

var conversionRE = regexp.MustCompile(`interface conversion: interface \{\} is ([^,]+), not (.+)$`)

// plainTypes turns Go type names into the names playbooks use.
var plainTypes = strings.NewReplacer(
	"map[string]interface {}", "map", "[]interface {}", "list", "interface {}", "any",
	"float64", "number", "time.Time", "date", "time.Duration", "duration",
	"engine.Visitor", "visitor", "*engine.World", "built-in", "int64", "int", "<nil>", "nothing",
)

// PlainTypes rewrites the Go type names in msg (float64, time.Time,
// map[string]interface {}, ...) as playbooks name them (number, date, map).
func PlainTypes(msg string) string { return plainTypes.Replace(msg) }

// pick chooses t's template for the session's locale: the locale itself,
// then the program's fallback, then its default locale, then any declared
// locale. It returns the locale picked.
func (r *runner) pick(t *Text) (*Template, string) {
	if t == nil {
		return nil, ""
	}
	if tm := t.ByLocale[r.s.Locale]; tm != nil {
		return tm, r.s.Locale
	}
	p := r.p
	if p.Fallback != "" {
		if tm := t.ByLocale[p.Fallback]; tm != nil {
			return tm, p.Fallback
		}
	}
	if tm := t.ByLocale[p.Locale]; tm != nil {
		return tm, p.Locale
	}
	for _, l := range p.Locales {
		if tm := t.ByLocale[l]; tm != nil {
			return tm, l
		}
	}
	// not a declared locale at all: take the first by name, to be stable
	best := ""
	for l, tm := range t.ByLocale {
		if tm != nil && (best == "" || l < best) {
			best = l
		}
	}
	if best == "" {
		return nil, ""
	}
	return t.ByLocale[best], best
}

// text renders t in the session's locale (see pick).
func (r *runner) text(c *Card, t *Text) (string, string, bool) {
	tm, loc := r.pick(t)
	s, ok := r.render(c, tm)
	return s, loc, ok
}

// render fills a template's holes.
func (r *runner) render(c *Card, tm *Template) (string, bool) {
	if tm == nil {
		return "", true
	}
	if tm.IsStatic {
		return tm.Static, true
	}
	if len(tm.Parts) == 1 && tm.Parts[0].Lit == "" {
		// "{{ email }}": a string value needs no copy
		if tm.Parts[0].Expr == nil {
			return "", true
		}
		v, ok := r.eval(c, tm.Parts[0].Expr)
		if !ok {
			return "", false
		}
		if s, isStr := v.(string); isStr {
			return s, true
		}
		r.buf = appendValue(r.buf[:0], v)
		return string(r.buf), true
	}
	if len(tm.Parts) == 1 && tm.Parts[0].Expr == nil {
		return tm.Parts[0].Lit, true
	}
	b := r.buf[:0]
	for i := range tm.Parts {
		pt := &tm.Parts[i]
		b = append(b, pt.Lit...)
		if pt.Expr == nil {
			continue
		}
		v, ok := r.eval(c, pt.Expr)
		if !ok {
			return "", false
		}
		b = appendValue(b, v)
	}
	r.buf = b
	return string(b), true
}

// value evaluates a field value.
func (r *runner) value(c *Card, v *Value) (any, bool) {
	switch {
	case v == nil:
		return nil, true
	case v.Expr != nil:
		return r.eval(c, v.Expr)
	case v.Tmpl != nil:
		return r.render(c, v.Tmpl)
	}
	return cloneValue(v.Lit), true
}

// fields evaluates record or body fields; nested fields become maps.
func (r *runner) fields(c *Card, fs []Field) (map[string]any, bool) {
	m := make(map[string]any, len(fs))
	for i := range fs {
		f := &fs[i]
		if f.Fields != nil {
			sub, ok := r.fields(c, f.Fields)
			if !ok {
				return nil, false
			}
			m[f.Name] = sub
			continue
		}
		v, ok := r.value(c, f.Value)
		if !ok {
			return nil, false
		}
		m[f.Name], _ = finite(v, 0) // JSON has no infinite number
	}
	return m, true
}

// appendValue appends v as text: nil as nothing, numbers without needless
// decimals (2500, 2.5), dates as 2006-01-02, lists comma-separated.
func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return b
	case string:
		return append(b, x...)
	case float64:
		return strconv.AppendFloat(b, finiteNumber(x), 'f', -1, 64)
	case float32:
		return strconv.AppendFloat(b, float64(x), 'f', -1, 32)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int16:
		return strconv.AppendInt(b, int64(x), 10)
	case int8:
		return strconv.AppendInt(b, int64(x), 10)
	case uint:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10)
	case bool:
		return strconv.AppendBool(b, x)
	case time.Time:
		return x.AppendFormat(b, "2006-01-02")
	case time.Duration:
		return append(b, x.String()...)
	case json.Number:
		return append(b, x...)
	case []any:
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendValue(b, e)
		}
		return b
	case []string:
		for i, e := range x {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = append(b, e...)
		}
		return b
	case fmt.Stringer:
		return append(b, x.String()...)
	case error:
		return append(b, x.Error()...)
	}
	v, _ = finite(v, 0) // no +Inf in a map shown as it is
	return fmt.Append(b, v)
}

// lookupPath finds path in a decoded JSON value: map keys, and list
// indices written as numbers ("items.0.name").
func lookupPath(v any, path []string) (any, bool) {
	for _, seg := range path {
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[seg]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// cloneValue deep-copies lists and maps, so values the program or a
// response holds are never shared with a session or an effect.
func cloneValue(v any) any {
	switch x := v.(type) {
	case []any:
		out := slices.Clone(x)
		for i, e := range out {
			out[i] = cloneValue(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = cloneValue(e)
		}
		return out
	}
	return v
}
