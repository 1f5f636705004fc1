package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
)

// Built-ins and operators that meet data while chatting are total: where
// the data does not fit they give nothing (nil), never an error that stops
// the conversation. The checker (package dsl) then insists that such a
// value is used only where nothing is fine: under `??`, compared with ==
// or !=, alone in a template hole, as a whole set, field or condition.
//
//   - int(text), float(text): nothing when the text is not a number;
//   - date(text), duration(text): nothing when the text is not one;
//   - fromJSON(text), fromBase64(text): nothing when the text is not one;
//   - join(list, sep) writes every item as text (numbers, dates), and
//     take(list, n) gives no items for n < 0;
//   - list[i], text[i]: nothing when i is past either end (AtFunc);
//   - a / b, a % b: nothing when b is 0 (DivFunc, ModFunc);
//   - repeat(text, n): "" for n < 0. A text over MaxVarText is an error
//     (the value is too large), like a var set to one.

var errTooLarge = errors.New("the value is too large (texts up to 64 KiB)")

// Hidden built-ins that totalPatcher calls in place of an index, a
// division and a remainder.
const (
	AtFunc    = "__at"     // list[i] or text[i] of a known list or text type
	AtAnyFunc = "__at_any" // x[i] where x's type is only known while chatting
	DivFunc   = "__div"    // a / b
	ModFunc   = "__mod"    // a % b
	// DateFunc is date(text) of a text only known while chatting: read in
	// the conversation's language, relative to the event's day.
	DateFunc = "__date"
)

// totalFuncs are the options that define the total built-ins.
func totalFuncs() []expr.Option {
	return []expr.Option{
		expr.Function("int", func(p ...any) (any, error) { return intOf(p[0]), nil }, new(func(any) int)),
		expr.Function("float", func(p ...any) (any, error) { return floatOf(p[0]), nil }, new(func(any) float64)),
		expr.Function("fromJSON", func(p ...any) (any, error) {
			s, _ := p[0].(string)
			var v any
			if json.Unmarshal([]byte(s), &v) != nil {
				return nil, nil
			}
			return v, nil
		}, new(func(string) any)),
		expr.Function("fromBase64", func(p ...any) (any, error) {
			s, _ := p[0].(string)
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, nil
			}
			return string(b), nil
		}, new(func(string) string)),
		expr.Function("join", func(p ...any) (any, error) {
			sep := ""
			if len(p) > 1 {
				sep, _ = p[1].(string)
			}
			var b []byte
			rv := reflect.ValueOf(p[0])
			if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
				return "", nil
			}
			for i := range rv.Len() {
				if i > 0 {
					b = append(b, sep...)
				}
				b = appendValue(b, rv.Index(i).Interface())
			}
			return string(b), nil
		}, new(func([]string, string) string), new(func([]any, string) string), new(func([]string) string), new(func([]any) string)),
		expr.Function("take", func(p ...any) (any, error) {
			n, _ := p[1].(int)
			switch l := p[0].(type) {
			case []string:
				return l[:max(0, min(n, len(l)))], nil
			case []any:
				return l[:max(0, min(n, len(l)))], nil
			}
			return []any{}, nil
		}, new(func([]string, int) []string), new(func([]any, int) []any)),
		expr.Function("repeat", func(p ...any) (any, error) {
			s, _ := p[0].(string)
			n, _ := p[1].(int)
			if n <= 0 || s == "" {
				return "", nil
			}
			if n > MaxVarText/len(s) {
				return nil, errTooLarge
			}
			return strings.Repeat(s, n), nil
		}, new(func(string, int) string)),
		expr.Function(AtFunc, func(p ...any) (any, error) { return at(p[0], p[1]), nil },
			new(func([]string, int) string), new(func(string, int) string), new(func([]any, int) any),
			new(func([]int, int) int), new(func([]float64, int) float64)),
		expr.Function(AtAnyFunc, func(p ...any) (any, error) { return at(p[0], p[1]), nil }, new(func(any, any) any)),
		expr.Function(DateFunc, func(p ...any) (any, error) {
			s, _ := p[0].(string)
			now, loc := time.Time{}, "en"
			if w, ok := p[1].(*World); ok && w != nil {
				now, loc = w.now, w.locale
			}
			if d, ok := parseDate(s, loc, now); ok {
				return d, nil
			}
			return nil, nil
		}, new(func(string, *World) time.Time)),
		expr.Function(DivFunc, func(p ...any) (any, error) {
			a, ok1 := toFloat(p[0])
			b, ok2 := toFloat(p[1])
			if !ok1 || !ok2 || b == 0 {
				return nil, nil
			}
			return a / b, nil
		}, new(func(any, any) float64)),
		expr.Function(ModFunc, func(p ...any) (any, error) {
			a, ok1 := p[0].(int)
			b, ok2 := p[1].(int)
			if !ok1 || !ok2 || b == 0 {
				return nil, nil
			}
			return a % b, nil
		}, new(func(any, any) int)),
	}
}

// intOf is int(v): numbers truncated toward zero, texts that hold a number
// ("42", " 7 ", "3.5"), else nil.
func intOf(v any) any {
	if i, ok := v.(int); ok {
		return i
	}
	f, ok := floatOf(v).(float64)
	if !ok || math.Abs(f) > maxExactInt {
		return nil
	}
	return int(f)
}

// floatOf is float(v): numbers, texts that hold a finite number, else nil.
func floatOf(v any) any {
	if d, ok := v.(time.Duration); ok {
		return float64(d)
	}
	if f, ok := toFloat(v); ok {
		return f
	}
	s, ok := v.(string)
	if !ok {
		return nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	return f
}

// at is x[i]: a negative i counts from the end; nil past either end.
func at(x, i any) any {
	idx, ok := i.(int)
	if !ok {
		f, isNum := toFloat(i)
		if !isNum || f != math.Trunc(f) || math.Abs(f) > maxExactInt {
			return nil
		}
		idx = int(f)
	}
	fix := func(n int) (int, bool) {
		if idx < 0 {
			idx += n
		}
		return idx, idx >= 0 && idx < n
	}
	switch l := x.(type) {
	case []any:
		if j, ok := fix(len(l)); ok {
			return l[j]
		}
		return nil
	case []string:
		if j, ok := fix(len(l)); ok {
			return l[j]
		}
		return nil
	case string:
		if j, ok := fix(utf8.RuneCountInString(l)); ok {
			return string([]rune(l)[j])
		}
		return nil
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil
	}
	if j, ok := fix(rv.Len()); ok {
		return rv.Index(j).Interface()
	}
	return nil
}

// totalPatcher rewrites list[i] into AtFunc(list, i), a / b into
// DivFunc(a, b) and a % b into ModFunc(a, b), where they could fail on
// data: an index into a list or a text, a divisor that is not a number
// other than 0 written out; and date(text) of a text not written out into
// DateFunc(text, world).
type totalPatcher struct{}

var (
	anyType      = reflect.TypeFor[any]()
	durationType = reflect.TypeFor[time.Duration]()
)

func kindOf(n ast.Node) reflect.Kind {
	t := n.Type()
	if t == nil || t == anyType {
		return reflect.Interface
	}
	return t.Kind()
}

func isInt(k reflect.Kind) bool    { return k >= reflect.Int && k <= reflect.Uint64 }
func isNumber(k reflect.Kind) bool { return isInt(k) || k == reflect.Float32 || k == reflect.Float64 }

// nonZeroLiteral reports whether n is a number other than 0 written out.
func nonZeroLiteral(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return x.Value != 0
	case *ast.FloatNode:
		return x.Value != 0
	case *ast.UnaryNode:
		return (x.Operator == "-" || x.Operator == "+") && nonZeroLiteral(x.Node)
	}
	return false
}

func call(name string, loc ast.Node, args ...ast.Node) *ast.CallNode {
	c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: name}, Arguments: args}
	c.Callee.SetLocation(loc.Location())
	return c
}

func (totalPatcher) Visit(node *ast.Node) {
	switch x := (*node).(type) {
	case *ast.CallNode:
		// date(answer): the text is read in the conversation's language
		// ("01.03.2026" is 1 March in German) and relative to its day
		// ("morgen"); a text written out is read when the playbook loads.
		id, ok := x.Callee.(*ast.IdentifierNode)
		if !ok || id.Value != "date" || len(x.Arguments) != 1 || kindOf(x.Arguments[0]) != reflect.String {
			return
		}
		if _, lit := x.Arguments[0].(*ast.StringNode); lit {
			return
		}
		world := &ast.IdentifierNode{Value: worldVar}
		world.SetLocation(x.Location())
		ast.Patch(node, call(DateFunc, x, x.Arguments[0], world))
	case *ast.MemberNode:
		if x.Method {
			return
		}
		if _, isName := x.Property.(*ast.StringNode); isName {
			return // m.key and m["key"]: a missing key is nil already
		}
		base, prop := kindOf(x.Node), kindOf(x.Property)
		if !isInt(prop) && prop != reflect.Interface {
			return // a type error, reported as such
		}
		switch {
		case base == reflect.Interface || prop == reflect.Interface:
			ast.Patch(node, call(AtAnyFunc, x, x.Node, x.Property))
		case base == reflect.String:
			ast.Patch(node, call(AtFunc, x, x.Node, x.Property))
		case base == reflect.Slice || base == reflect.Array:
			switch x.Node.Type() {
			case reflect.TypeFor[[]string](), reflect.TypeFor[[]any](), reflect.TypeFor[[]int](), reflect.TypeFor[[]float64]():
				ast.Patch(node, call(AtFunc, x, x.Node, x.Property))
			default:
				ast.Patch(node, call(AtAnyFunc, x, x.Node, x.Property))
			}
		}
	case *ast.BinaryNode:
		if x.Operator != "/" && x.Operator != "%" || nonZeroLiteral(x.Right) {
			return
		}
		if x.Left.Type() == durationType || x.Right.Type() == durationType {
			return
		}
		l, r := kindOf(x.Left), kindOf(x.Right)
		if x.Operator == "/" && (isNumber(l) || l == reflect.Interface) && (isNumber(r) || r == reflect.Interface) {
			ast.Patch(node, call(DivFunc, x, x.Left, x.Right))
		}
		if x.Operator == "%" && (isInt(l) || l == reflect.Interface) && (isInt(r) || r == reflect.Interface) {
			ast.Patch(node, call(ModFunc, x, x.Left, x.Right))
		}
	}
}
