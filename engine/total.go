package engine

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm/runtime"
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
//   - a ** b: nothing when the result is not a finite number (PowFunc);
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
	PowFunc   = "__pow"    // a ** b
	// DateFunc is date(text) of a text only known while chatting: read in
	// the conversation's language, relative to the event's day.
	DateFunc = "__date"
	// DateAnyFunc is date(x) of a map field or an any var: its date, or
	// the date its text names as DateFunc reads it, else nothing.
	DateAnyFunc = "__date_any"
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
		expr.Function(DateAnyFunc, func(p ...any) (any, error) {
			now, loc := time.Time{}, "en"
			if w, ok := p[1].(*World); ok && w != nil {
				now, loc = w.now, w.locale
			}
			switch x := p[0].(type) {
			case time.Time:
				return dateOf(x), nil
			case string:
				if d, ok := parseDate(x, loc, now); ok {
					return d, nil
				}
			}
			return nil, nil
		}, new(func(any, *World) time.Time)),
		expr.Function(DivFunc, func(p ...any) (any, error) {
			a, ok1 := toFloat(p[0])
			b, ok2 := toFloat(p[1])
			if !ok1 || !ok2 || b == 0 {
				return nil, nil
			}
			return a / b, nil
		}, new(func(any, any) float64)),
		expr.Function(PowFunc, func(p ...any) (any, error) {
			a, ok1 := toFloat(p[0])
			b, ok2 := toFloat(p[1])
			if !ok1 || !ok2 {
				return nil, nil
			}
			v := math.Pow(a, b)
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, nil
			}
			return v, nil
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
type totalPatcher struct {
	anyVars map[string]bool // the vars of type any: their type is unknown to expr
}

// dynamic reports whether n's type is only known while chatting: a map
// field, a list item, an any var; not an unknown name (an error).
func (p totalPatcher) dynamic(n ast.Node) bool {
	if id, ok := n.(*ast.IdentifierNode); ok {
		return p.anyVars[id.Value]
	}
	return n.Type() == anyType
}

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

func (p totalPatcher) Visit(node *ast.Node) {
	switch x := (*node).(type) {
	case *ast.BuiltinNode:
		p.patchTyped(node, x.Name, x.Arguments)
	case *ast.UnaryNode:
		if x.Operator == "-" && p.dynamic(x.Node) {
			ast.Patch(node, call(ArithFunc, x, str("neg", x), x.Node))
		}
		if (x.Operator == "not" || x.Operator == "!") && p.dynamic(x.Node) {
			x.Node = call(BoolFunc, x.Node, x.Node)
		}
	case *ast.SliceNode:
		if p.dynamic(x.Node) {
			x.Node = call(SliceableFunc, x.Node, x.Node)
		}
	case *ast.ConditionalNode:
		if p.dynamic(x.Cond) {
			x.Cond = call(BoolFunc, x.Cond, x.Cond)
		}
	case *ast.CallNode:
		// date(answer): the text is read in the conversation's language
		// ("01.03.2026" is 1 March in German) and relative to its day
		// ("morgen"); a text written out is read when the playbook loads.
		id, ok := x.Callee.(*ast.IdentifierNode)
		if !ok {
			// open_hours(team), agents_online(team) of a map field
			if m, isM := x.Callee.(*ast.MemberNode); isM {
				if prop, _ := m.Property.(*ast.StringNode); prop != nil && (prop.Value == "OpenHours" || prop.Value == "AgentsOnline") {
					for i, a := range x.Arguments {
						if p.dynamic(a) {
							x.Arguments[i] = call(TextFunc, a, a)
						}
					}
				}
			}
			return
		}
		if id.Value == "date" && len(x.Arguments) == 1 && p.dynamic(x.Arguments[0]) && p.heldData(x.Arguments[0]) {
			// date(order.day): a date, or a text read like date(answer)
			world := &ast.IdentifierNode{Value: worldVar}
			world.SetLocation(x.Location())
			ast.Patch(node, call(DateAnyFunc, x, x.Arguments[0], world))
			return
		}
		if id.Value != "date" || len(x.Arguments) != 1 || kindOf(x.Arguments[0]) != reflect.String {
			p.patchTyped(node, id.Value, x.Arguments)
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
			// m.key and m["key"]: a missing key is nil already; of a
			// value that may not be a map (order.item.name), FieldFunc.
			if p.dynamic(x.Node) {
				ast.Patch(node, call(FieldFunc, x, x.Node, x.Property))
			}
			return
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
		dynL, dynR := p.dynamic(x.Left), p.dynamic(x.Right)
		switch x.Operator {
		case "**", "^":
			if a, ok := literalNumber(x.Left); ok {
				if b, ok := literalNumber(x.Right); ok {
					if v := math.Pow(a, b); !math.IsInf(v, 0) && !math.IsNaN(v) {
						return // written out, and a number: 2 ** 10
					}
				}
			}
			if x.Left.Type() != durationType && x.Right.Type() != durationType {
				ast.Patch(node, call(PowFunc, x, x.Left, x.Right))
			}
			return
		case "+", "-", "*":
			if dynL || dynR {
				ast.Patch(node, call(ArithFunc, x, str(x.Operator, x), x.Left, x.Right))
			}
			return
		case "<", "<=", ">", ">=":
			if dynL || dynR {
				ast.Patch(node, call(CmpFunc, x, str(x.Operator, x), x.Left, x.Right))
			}
			return
		case "..":
			if dynL || dynR {
				ast.Patch(node, call(RangeFunc, x, x.Left, x.Right))
			}
			return
		case "and", "or", "&&", "||":
			if dynL {
				x.Left = call(BoolFunc, x.Left, x.Left)
			}
			if dynR {
				x.Right = call(BoolFunc, x.Right, x.Right)
			}
			return
		case "in":
			if dynR || dynL && kindOf(x.Right) == reflect.Map {
				ast.Patch(node, call(InFunc, x, x.Left, x.Right))
			}
			return
		case "contains", "startsWith", "endsWith", "matches":
			if dynL {
				x.Left = call(TextFunc, x.Left, x.Left)
			}
			if dynR && x.Operator != "matches" {
				x.Right = call(TextFunc, x.Right, x.Right)
			}
			return
		}
		if x.Operator != "/" && x.Operator != "%" || nonZeroLiteral(x.Right) && !dynL {
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

// Hidden built-ins for values whose type is only known while chatting: a
// list of items of different kinds, a map field or an any var.
const (
	// AggFunc is sum, min, max, mean or median (its first argument, a
	// name) of a list whose items may not all be numbers: nothing then.
	AggFunc = "__agg"
	// SortFunc is sort(list[, order]) and SortByFunc sortBy(list, keys[,
	// order]) of items of any kinds: numbers before texts before dates,
	// never an error.
	SortFunc   = "__sort"
	SortByFunc = "__sortBy"
	// TextFunc writes a value whose type is only known while chatting as
	// text for a text built-in: a number as its digits, nothing as "".
	TextFunc = "__text"
	// LenFunc is len(x) of such a value: a number's or a yes/no's text
	// length, 0 for nothing.
	LenFunc = "__len"
	// ArithFunc is a + b, a - b, a * b, a ** b, -a, abs, ceil, floor or
	// round (its first argument, a name) where an operand's type is only
	// known while chatting: nothing when the operation does not apply.
	ArithFunc = "__arith"
	// CmpFunc is a < b, a <= b, a > b or a >= b likewise: false when the
	// two cannot be compared.
	CmpFunc = "__cmp"
	// BoolFunc is such a value where a yes/no is needed (not, and, or,
	// ?:): false unless it is true.
	BoolFunc = "__bool"
	// ListFunc is such a value where a list is needed (filter, map,
	// concat, ...): no items unless it is a list; MapFunc where a map is needed
	// (keys, values, toPairs): no keys unless it is a map.
	ListFunc = "__list"
	InFunc   = "__in" // a in b: false unless b is a list holding a or a map with the key a
	MapFunc  = "__map"
	// FieldFunc is x.name of such a value: nothing unless x is a map.
	FieldFunc = "__field"
	// GetFunc is get(x, key) likewise: nothing unless x has it.
	GetFunc = "__get"
	// SliceableFunc is x in x[i:j]: no items unless x is a list or a text.
	SliceableFunc = "__sliceable"
	// RangeFunc is a..b: no items unless both are whole numbers.
	RangeFunc = "__range"
	// FromPairsFunc is fromPairs(list): the items that are pairs of a key
	// and a value; GroupByFunc is groupBy(list, keys): a list or a map as
	// a key is grouped by its JSON text.
	FromPairsFunc = "__fromPairs"
	GroupByFunc   = "__groupBy"
)

// predBuiltins need their predicate to be true or false.
var predBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "find": true,
	"findIndex": true, "findLast": true, "findLastIndex": true, "count": true,
}

// listBuiltins take a list as their first argument.
var listBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true, "filter": true, "map": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true, "count": true,
	"groupBy": true, "reduce": true, "concat": true, "flatten": true, "uniq": true,
	"reverse": true, "first": true, "last": true,
}

// RemovedBuiltins are expr built-ins a playbook has no use for; a bit shift
// by a negative count stopped the conversation.
var RemovedBuiltins = []string{"bitand", "bitor", "bitxor", "bitnand", "bitnot", "bitshl", "bitshr", "bitushr"}

// typedFuncs are the options for the hidden built-ins above.
func typedFuncs() []expr.Option {
	opts := make([]expr.Option, 0, len(RemovedBuiltins)+8)
	for _, b := range RemovedBuiltins {
		opts = append(opts, expr.DisableBuiltin(b))
	}
	return append(opts,
		expr.Function(AggFunc, func(p ...any) (any, error) {
			name, _ := p[0].(string)
			return aggregate(name, p[1:]), nil
		}, new(func(string, ...any) any)),
		expr.Function(SortFunc, func(p ...any) (any, error) {
			l := listOf(p[0])
			out := append([]any(nil), l...)
			desc := len(p) > 1 && p[1] == "desc"
			slices.SortStableFunc(out, func(a, b any) int { return orderOf(a, b, desc) })
			return out, nil
		}, new(func(any) []any), new(func(any, string) []any)),
		expr.Function(SortByFunc, func(p ...any) (any, error) {
			l, keys := listOf(p[0]), listOf(p[1])
			if len(keys) != len(l) {
				return []any{}, nil
			}
			idx := make([]int, len(l))
			for i := range idx {
				idx[i] = i
			}
			desc := len(p) > 2 && p[2] == "desc"
			slices.SortStableFunc(idx, func(a, b int) int { return orderOf(keys[a], keys[b], desc) })
			out := make([]any, len(l))
			for i, j := range idx {
				out[i] = l[j]
			}
			return out, nil
		}, new(func(any, any) []any), new(func(any, any, string) []any)),
		expr.Function(TextFunc, func(p ...any) (any, error) {
			if s, ok := p[0].(string); ok {
				return s, nil
			}
			return string(appendValue(nil, p[0])), nil
		}, new(func(any) string)),
		expr.Function(LenFunc, func(p ...any) (any, error) {
			switch x := p[0].(type) {
			case nil:
				return 0, nil
			case string:
				return utf8.RuneCountInString(x), nil
			}
			rv := reflect.ValueOf(p[0])
			switch rv.Kind() {
			case reflect.Slice, reflect.Array, reflect.Map:
				return rv.Len(), nil
			}
			return utf8.RuneCount(appendValue(nil, p[0])), nil
		}, new(func(any) int)),
		expr.Function(ArithFunc, func(p ...any) (any, error) {
			op, _ := p[0].(string)
			return arith(op, p[1:]), nil
		}, new(func(string, ...any) any)),
		expr.Function(BoolFunc, func(p ...any) (any, error) {
			return p[0] == true, nil
		}, new(func(any) bool)),
		expr.Function(ListFunc, func(p ...any) (any, error) {
			if k := reflect.ValueOf(p[0]).Kind(); k == reflect.Slice || k == reflect.Array {
				return p[0], nil
			}
			return []any{}, nil
		}, new(func(any) []any)),
		expr.Function(InFunc, func(p ...any) (any, error) {
			rv := reflect.ValueOf(p[1])
			switch rv.Kind() {
			case reflect.Slice, reflect.Array:
				for i := range rv.Len() {
					it := rv.Index(i).Interface()
					if c, ok := compare(p[0], it); ok && c == 0 || rank(p[0]) == 6 && reflect.DeepEqual(p[0], it) {
						return true, nil
					}
				}
			case reflect.Map:
				k := reflect.ValueOf(p[0])
				if k.IsValid() && k.Type().AssignableTo(rv.Type().Key()) {
					return rv.MapIndex(k).IsValid(), nil
				}
			}
			return false, nil
		}, new(func(any, any) bool)),
		expr.Function(SliceableFunc, func(p ...any) (any, error) {
			if k := reflect.ValueOf(p[0]).Kind(); k == reflect.Slice || k == reflect.Array || k == reflect.String {
				return p[0], nil
			}
			return []any{}, nil
		}, new(func(any) any)),
		expr.Function(RangeFunc, func(p ...any) (any, error) {
			a, okA := p[0].(int)
			b, okB := p[1].(int)
			if !okA || !okB || b < a {
				return []int{}, nil
			}
			if b-a >= MaxVarItems {
				return nil, errors.New("the value is too large (lists up to 1,000 items)")
			}
			out := make([]int, 0, b-a+1)
			for i := a; i <= b; i++ {
				out = append(out, i)
			}
			return out, nil
		}, new(func(any, any) []int)),
		expr.Function(FromPairsFunc, func(p ...any) (any, error) {
			out := map[any]any{}
			for _, it := range listOf(p[0]) {
				pair := listOf(it)
				if len(pair) != 2 || !hashable(pair[0]) {
					continue
				}
				out[pair[0]] = pair[1]
			}
			return out, nil
		}, new(func(any) map[any]any)),
		expr.Function(GroupByFunc, func(p ...any) (any, error) {
			l, keys := listOf(p[0]), listOf(p[1])
			out := map[any][]any{}
			for i, it := range l {
				if i >= len(keys) {
					break
				}
				k := keys[i]
				if !hashable(k) {
					b, _ := json.Marshal(k)
					k = string(b)
				}
				out[k] = append(out[k], it)
			}
			return out, nil
		}, new(func(any, any) map[any][]any)),
		expr.Function(GetFunc, func(p ...any) (any, error) {
			if k := reflect.ValueOf(p[0]).Kind(); k == reflect.Slice || k == reflect.Array || k == reflect.String {
				return at(p[0], p[1]), nil
			}
			rv := reflect.ValueOf(p[0])
			if rv.Kind() == reflect.Map {
				k := reflect.ValueOf(p[1])
				if k.IsValid() && k.Type().AssignableTo(rv.Type().Key()) {
					if v := rv.MapIndex(k); v.IsValid() {
						return v.Interface(), nil
					}
				}
			}
			return nil, nil
		}, new(func(any, any) any)),
		expr.Function(MapFunc, func(p ...any) (any, error) {
			if reflect.ValueOf(p[0]).Kind() == reflect.Map {
				return p[0], nil
			}
			return map[string]any{}, nil
		}, new(func(any) map[string]any)),
		expr.Function(FieldFunc, func(p ...any) (any, error) {
			key, _ := p[1].(string)
			if m, ok := p[0].(map[string]any); ok {
				return m[key], nil
			}
			rv := reflect.ValueOf(p[0])
			if rv.Kind() != reflect.Map {
				return nil, nil
			}
			k := reflect.ValueOf(key)
			switch kt := rv.Type().Key(); {
			case kt.Kind() == reflect.String:
				k = k.Convert(kt)
			case !k.Type().AssignableTo(kt):
				return nil, nil
			}
			if v := rv.MapIndex(k); v.IsValid() {
				return v.Interface(), nil
			}
			return nil, nil
		}, new(func(any, string) any)),
		expr.Function(CmpFunc, func(p ...any) (any, error) {
			op, _ := p[0].(string)
			c, ok := compare(p[1], p[2])
			if !ok {
				return false, nil
			}
			switch op {
			case "<":
				return c < 0, nil
			case "<=":
				return c <= 0, nil
			case ">":
				return c > 0, nil
			}
			return c >= 0, nil
		}, new(func(string, any, any) bool)),
	)
}

// listOf is x's items, or none when x is not a list.
func listOf(x any) []any {
	switch l := x.(type) {
	case []any:
		return l
	case nil:
		return nil
	}
	rv := reflect.ValueOf(x)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

// aggregate is sum, min, max, mean or median of args (one list, or for min
// and max several values): nothing when an item is not a number, or for
// min, max, mean and median of no items.
func aggregate(name string, args []any) any {
	items := args
	if len(args) == 1 {
		if rv := reflect.ValueOf(args[0]); rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
			items = listOf(args[0])
		}
	}
	nums := make([]float64, 0, len(items))
	allInt := true
	for _, it := range items {
		f, ok := toFloat(it)
		if !ok {
			return nil
		}
		if _, isInt := it.(int); !isInt {
			allInt = false
		}
		nums = append(nums, f)
	}
	if len(nums) == 0 {
		if name == "sum" {
			return 0
		}
		return nil
	}
	var r float64
	switch name {
	case "sum", "mean":
		for _, f := range nums {
			r += f
		}
		if name == "mean" {
			return r / float64(len(nums))
		}
	case "min", "max":
		r = nums[0]
		for _, f := range nums[1:] {
			if name == "min" && f < r || name == "max" && f > r {
				r = f
			}
		}
	case "median":
		slices.Sort(nums)
		n := len(nums)
		if n%2 == 1 {
			return nums[n/2]
		}
		return (nums[n/2-1] + nums[n/2]) / 2
	default:
		return nil
	}
	if allInt && math.Abs(r) <= maxExactInt {
		return int(r)
	}
	return r
}

// rank orders values of different kinds: nothing, yes/no, numbers, texts,
// dates, lengths of time, the rest.
func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case bool:
		return 1
	case string:
		return 3
	case time.Time:
		return 4
	case time.Duration:
		return 5
	}
	if _, ok := toFloat(v); ok {
		return 2
	}
	return 6
}

// compare compares a and b of the same kind; ok is false for values of
// different kinds or of a kind without an order.
func compare(a, b any) (c int, ok bool) {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return 0, false
	}
	switch ra {
	case 0:
		return 0, true
	case 1:
		x, y := a.(bool), b.(bool)
		switch {
		case x == y:
			return 0, true
		case !x:
			return -1, true
		}
		return 1, true
	case 2:
		x, _ := toFloat(a)
		y, _ := toFloat(b)
		return cmpFloat(x, y), true
	case 3:
		return strings.Compare(a.(string), b.(string)), true
	case 4:
		return a.(time.Time).Compare(b.(time.Time)), true
	case 5:
		return cmpFloat(float64(a.(time.Duration)), float64(b.(time.Duration))), true
	}
	return 0, false
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// orderOf is the order sort and sortBy put a and b in: by kind (see rank),
// then by value.
func orderOf(a, b any, desc bool) int {
	c, ok := compare(a, b)
	if !ok {
		c = rank(a) - rank(b)
	}
	if desc {
		return -c
	}
	return c
}

// arith applies op to args where their types were only known while
// chatting: nothing when op does not apply to them (a text times a
// number, a list plus a number).
func arith(op string, args []any) (v any) {
	defer func() {
		if recover() != nil {
			v = nil
		}
	}()
	switch op {
	case "abs", "ceil", "floor", "round", "neg":
		f, ok := toFloat(args[0])
		if !ok {
			return nil
		}
		if i, isInt := args[0].(int); isInt {
			switch op {
			case "abs":
				return max(i, -i)
			case "neg":
				return -i
			}
			return i
		}
		switch op {
		case "abs":
			return math.Abs(f)
		case "ceil":
			return math.Ceil(f)
		case "floor":
			return math.Floor(f)
		case "round":
			return math.Round(f)
		}
		return -f
	}
	a, b := args[0], args[1]
	if op == "+" {
		if x, ok := a.(string); ok {
			if y, ok := b.(string); ok {
				return x + y
			}
			return nil
		}
	}
	if moment(a) || moment(b) {
		// a date or a duration with one only known while chatting: what
		// expr makes of them (a date + a duration), else nothing (the
		// recover above: nothing + a duration).
		switch op {
		case "+":
			return runtime.Add(a, b)
		case "-":
			return runtime.Subtract(a, b)
		case "*":
			return runtime.Multiply(a, b)
		}
		return nil
	}
	_, okA := toFloat(a)
	_, okB := toFloat(b)
	if !okA || !okB {
		return nil
	}
	switch op {
	case "+":
		return runtime.Add(a, b)
	case "-":
		return runtime.Subtract(a, b)
	case "*":
		return runtime.Multiply(a, b)
	case "**", "^":
		return runtime.Exponent(a, b)
	}
	return nil
}

// moment reports whether v is a date or a duration.
func moment(v any) bool {
	switch v.(type) {
	case time.Time, time.Duration:
		return true
	}
	return false
}

// textBuiltins are the built-ins whose arguments are all texts.
var textBuiltins = map[string]bool{
	"upper": true, "lower": true, "trim": true, "trimPrefix": true, "trimSuffix": true,
	"split": true, "splitAfter": true, "replace": true, "indexOf": true, "lastIndexOf": true,
	"hasPrefix": true, "hasSuffix": true, "toBase64": true, "round_robin": true, "duration": true,
}

// str is a text written out, at loc.
func str(s string, loc ast.Node) *ast.StringNode {
	n := &ast.StringNode{Value: s}
	n.SetLocation(loc.Location())
	return n
}

// numberList reports whether n is a list whose items are all numbers by
// type: a list of ints or floats, or a list written out of numbers.
func numberList(n ast.Node) bool {
	if a, ok := n.(*ast.ArrayNode); ok {
		for _, it := range a.Nodes {
			if !isNumber(kindOf(it)) {
				return false
			}
		}
		return true
	}
	t := n.Type()
	return t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && isNumber(t.Elem().Kind())
}

// patchTyped rewrites a call of built-in name whose arguments' types are
// only known while chatting into its total form (see typedFuncs).
func (p totalPatcher) patchTyped(node *ast.Node, name string, args []ast.Node) {
	if len(args) == 0 {
		return
	}
	x := *node
	if listBuiltins[name] && p.dynamic(args[0]) {
		args[0] = call(ListFunc, args[0], args[0])
	}
	if (name == "keys" || name == "values" || name == "toPairs") && p.dynamic(args[0]) {
		args[0] = call(MapFunc, args[0], args[0])
	}
	if name == "count" && len(args) == 1 {
		_, isArray := args[0].(*ast.ArrayNode)
		_, isConst := args[0].(*ast.ConstantNode)
		// Items written out are the checker's (count([n, 2]) is refused
		// at load); those of a list var or of data may be of any kind.
		if t := args[0].Type(); !isArray && !isConst && (t == nil || t.Kind() != reflect.Slice && t.Kind() != reflect.Array || t.Elem().Kind() == reflect.Interface) {
			// count(list) counts the items that are true: an item of
			// another kind (a number in a list var) stopped the bot.
			pr := &ast.PredicateNode{Node: call(BoolFunc, args[0], &ast.PointerNode{})}
			pr.SetLocation(args[0].Location())
			x.(*ast.BuiltinNode).Arguments = append(args, pr)
			return
		}
	}
	if predBuiltins[name] && len(args) == 2 {
		if pr, ok := args[1].(*ast.PredicateNode); ok && p.dynamic(pr.Node) {
			pr.Node = call(BoolFunc, pr.Node, pr.Node)
		}
	}
	if name == "get" && len(args) == 2 && p.dynamic(args[0]) {
		ast.Patch(node, call(GetFunc, x, args[0], args[1]))
		return
	}
	switch {
	case textBuiltins[name]:
		for i, a := range args {
			if p.dynamic(a) {
				args[i] = call(TextFunc, a, a)
			}
		}
	case name == "len":
		if p.dynamic(args[0]) {
			ast.Patch(node, call(LenFunc, x, args[0]))
		}
	case name == "abs" || name == "ceil" || name == "floor" || name == "round":
		if p.dynamic(args[0]) {
			ast.Patch(node, call(ArithFunc, x, str(name, x), args[0]))
		}
	case name == "sum" || name == "mean" || name == "median" || name == "min" || name == "max":
		if _, pred := args[len(args)-1].(*ast.PredicateNode); pred && len(args) == 2 {
			ast.Patch(node, call(AggFunc, x, str(name, x), p.mapOf(x, args[0], args[1])))
			return
		}
		if len(args) == 1 && numberList(args[0]) {
			return
		}
		if len(args) > 1 {
			all := true
			for _, a := range args {
				all = all && isNumber(kindOf(a))
			}
			if all {
				return
			}
		}
		ast.Patch(node, call(AggFunc, x, append([]ast.Node{str(name, x)}, args...)...))
	case name == "sort":
		if len(args) > 1 {
			// expr stops on an order other than "asc" or "desc"; ours reads
			// anything but "desc" as ascending (the checker refuses a
			// literal other one).
			if o, ok := args[1].(*ast.StringNode); !ok || o.Value != "asc" && o.Value != "desc" {
				ast.Patch(node, call(SortFunc, x, args...))
				return
			}
		}
		if t := args[0].Type(); t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			if k := t.Elem().Kind(); isNumber(k) || k == reflect.String {
				return
			}
		}
		if a, ok := args[0].(*ast.ArrayNode); ok && numberList(a) {
			return
		}
		ast.Patch(node, call(SortFunc, x, args...))
	case name == "fromPairs":
		ast.Patch(node, call(FromPairsFunc, x, args[0]))
	case name == "groupBy":
		if len(args) == 2 {
			ast.Patch(node, call(GroupByFunc, x, args[0], p.mapOf(x, args[0], args[1])))
		}
	case name == "sortBy":
		if len(args) < 2 {
			return
		}
		rest := append([]ast.Node{args[0], p.mapOf(x, args[0], args[1])}, args[2:]...)
		ast.Patch(node, call(SortByFunc, x, rest...))
	}
}

// mapOf is map(list, pred).
func (p totalPatcher) mapOf(loc, list, pred ast.Node) ast.Node {
	if p.dynamic(list) {
		list = call(ListFunc, list, list)
	}
	m := &ast.BuiltinNode{Name: "map", Arguments: []ast.Node{list, pred}}
	m.SetLocation(loc.Location())
	return m
}

// heldData reports whether n is a value held by a var, a map or a list
// (order.day, v, items[0]) rather than one computed (budget ?? 0), whose
// type is a mistake to report.
func (p totalPatcher) heldData(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return p.anyVars[x.Value]
	case *ast.MemberNode:
		return !x.Method
	case *ast.ChainNode:
		return p.heldData(x.Node)
	case *ast.CallNode:
		id, _ := x.Callee.(*ast.IdentifierNode)
		return id != nil && (id.Value == FieldFunc || id.Value == GetFunc || id.Value == AtAnyFunc || id.Value == AtFunc)
	}
	return false
}

// hashable reports whether v can be a map's key.
func hashable(v any) bool {
	return v == nil || reflect.TypeOf(v).Comparable()
}

// literalNumber is the value of a number written out (-1 included).
func literalNumber(n ast.Node) (float64, bool) {
	switch x := n.(type) {
	case *ast.IntegerNode:
		return float64(x.Value), true
	case *ast.FloatNode:
		return x.Value, true
	case *ast.UnaryNode:
		if v, ok := literalNumber(x.Node); ok && x.Operator == "-" {
			return -v, true
		}
	}
	return 0, false
}
