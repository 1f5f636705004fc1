package dsl

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Values that may be nothing: engine makes int(text), list[i], a / b and
// the like total (see engine/total.go), so a visitor's data cannot stop
// the conversation there; in return such a value may only be used where
// nothing is fine. checkNothing reports every other use, with the fix.

// nothingWhy returns what node n is written as and when it has no value,
// or "" when n always has one.
func nothingWhy(n ast.Node) (text, why string) {
	c, ok := n.(*ast.CallNode)
	if !ok {
		return "", ""
	}
	id, ok := c.Callee.(*ast.IdentifierNode)
	if !ok || len(c.Arguments) == 0 {
		return "", ""
	}
	arg := c.Arguments[0]
	switch id.Value {
	case "int", "float":
		if isNumberNode(arg) {
			return "", ""
		}
		return c.String(), arg.String() + " is not a number"
	case "date", engine.DateFunc, engine.DateAnyFunc:
		if _, lit := arg.(*ast.StringNode); lit || arg.Type() == reflect.TypeFor[time.Time]() {
			return "", "" // a literal is checked when the playbook loads
		}
		return "date(" + arg.String() + ")", arg.String() + " is not a date"
	case "duration":
		if _, lit := arg.(*ast.StringNode); lit {
			return "", ""
		}
		return c.String(), arg.String() + " is not a duration"
	case "fromJSON":
		return c.String(), arg.String() + " is not JSON"
	case "fromBase64":
		return c.String(), arg.String() + " is not base64"
	case engine.AtFunc, engine.AtAnyFunc:
		if firstOrLastOfSplit(arg, c.Arguments[1]) {
			return "", ""
		}
		return fmt.Sprintf("%s[%s]", arg.String(), c.Arguments[1].String()), "the index is past the end"
	case engine.AggFunc:
		name, _ := arg.(*ast.StringNode)
		if name == nil {
			return "", ""
		}
		parts := make([]string, 0, 2)
		for _, a := range c.Arguments[1:] {
			if m, ok := a.(*ast.BuiltinNode); ok && m.Name == "map" && len(m.Arguments) == 2 {
				parts = append(parts, m.Arguments[0].String(), m.Arguments[1].String())
				continue
			}
			parts = append(parts, a.String())
		}
		why := "its items are not all numbers"
		if name.Value != "sum" {
			why = "its items are not all numbers, or there are none"
		}
		return name.Value + "(" + strings.Join(parts, ", ") + ")", why
	case engine.ArithFunc:
		op, _ := arg.(*ast.StringNode)
		if op == nil {
			return "", ""
		}
		rest := c.Arguments[1:]
		switch {
		case len(rest) == 1 && op.Value == "neg":
			return "-" + rest[0].String(), rest[0].String() + " is not a number"
		case len(rest) == 1:
			return op.Value + "(" + rest[0].String() + ")", rest[0].String() + " is not a number"
		case len(rest) == 2:
			return rest[0].String() + " " + op.Value + " " + rest[1].String(), "a side is not a number (or, for +, both texts)"
		}
		return "", ""
	case engine.PowFunc:
		return arg.String() + " ** " + c.Arguments[1].String(), "the result is too large to be a number (or 0 is raised to a negative power)"
	case engine.DivFunc, engine.ModFunc:
		op := " / "
		if id.Value == engine.ModFunc {
			op = " % "
		}
		why := c.Arguments[1].String() + " is 0"
		if _, lit := c.Arguments[1].(*ast.IntegerNode); lit || isNumberNode(c.Arguments[1]) && !isNumberNode(arg) {
			why = arg.String() + " is not a number"
		}
		return arg.String() + op + c.Arguments[1].String(), why
	}
	return "", ""
}

// firstOrLastOfSplit reports whether list[i] is split(text, sep)[0] or
// [-1] with sep a text written out that is not empty: split gives at
// least one item then, so the index always has a value.
func firstOrLastOfSplit(list, i ast.Node) bool {
	var args []ast.Node
	switch c := list.(type) {
	case *ast.CallNode:
		if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == "split" {
			args = c.Arguments
		}
	case *ast.BuiltinNode:
		if c.Name == "split" {
			args = c.Arguments
		}
	}
	if len(args) != 2 {
		return false
	}
	if sep, ok := args[1].(*ast.StringNode); !ok || sep.Value == "" {
		return false
	}
	switch x := i.(type) {
	case *ast.IntegerNode:
		return x.Value == 0 || x.Value == -1
	case *ast.UnaryNode:
		n, ok := x.Node.(*ast.IntegerNode)
		return ok && x.Operator == "-" && n.Value == 1
	}
	return false
}

func isNumberNode(n ast.Node) bool {
	switch n.Type().Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// mayBeNothing reports whether n's value may be nothing because of one of
// the total built-ins (not because of a var: definite assignment sees to
// those).
func mayBeNothing(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.BinaryNode:
		if x.Operator == "??" {
			return mayBeNothing(x.Right)
		}
	case *ast.ConditionalNode:
		return mayBeNothing(x.Exp1) || mayBeNothing(x.Exp2)
	case *ast.ChainNode:
		return mayBeNothing(x.Node)
	}
	text, _ := nothingWhy(n)
	return text != ""
}

// checkNothing reports each value of e that may be nothing and is used
// where nothing fails. The whole expression may be nothing: a template
// hole shows nothing, a field stays empty, a condition is false, a set
// leaves its var unset (and definite assignment knows it).
func (c *compiler) checkNothing(f *fileCtx, n *yaml.Node, off int, e *engine.Expr, root ast.Node) {
	var walk func(x ast.Node, ok bool)
	report := func(x ast.Node) {
		text, why := nothingWhy(x)
		if text == "" {
			return
		}
		from := leftmost(x, len([]rune(e.Src)))
		d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(text))), "`%s` has no value when %s, and then the conversation would stop", text, why)
		if _, isCall := x.(*ast.CallNode); isCall && strings.ContainsAny(text, "/% ") && !strings.HasSuffix(text, ")") {
			text = "(" + text + ")" // a / b ?? 0 would be a / (b ?? 0)
		}
		d.Detail = fmt.Sprintf("write `(%s ?? %s)` here, or test it first", text, fallbackFor(x))
	}
	walk = func(x ast.Node, ok bool) {
		if x == nil {
			return
		}
		if !ok {
			report(x)
		}
		switch y := x.(type) {
		case *ast.BinaryNode:
			switch y.Operator {
			case "??":
				walk(y.Left, true)
				walk(y.Right, ok)
			case "==", "!=":
				walk(y.Left, true)
				walk(y.Right, true)
			case "in", "not in":
				if t := y.Right.Type(); t != nil && t.Kind() != reflect.Slice && t.Kind() != reflect.Array && t.Kind() != reflect.Map && t.Kind() != reflect.Interface {
					// expr refuses it when both sides' types are known, and
					// stopped the bot when the left one is only known while
					// chatting (a map field, an any var).
					from := leftmost(y, len([]rune(e.Src)))
					l, r := worldless(y.Left.String()), worldless(y.Right.String())
					what, fix := "is a text", fmt.Sprintf("to look in a text, write %s contains %s", r, l)
					if t.Kind() != reflect.String {
						what, fix = "is neither", fmt.Sprintf("to compare, write %s == %s", l, r)
					}
					d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(y.String()))), "`in` looks in a list or a map, and `%s` %s, so the conversation would stop", r, what)
					d.Detail = fix
				}
				walk(y.Left, true)
				walk(y.Right, false)
			case "matches":
				if _, lit := y.Right.(*ast.StringNode); !lit {
					from := leftmost(y.Right, len([]rune(e.Src)))
					d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(y.Right.String()))), "the pattern after `matches` must be written in the playbook, as a text in quotes")
					d.Detail = "a pattern from a var or the visitor is only known while chatting, and one that is not a valid pattern would stop the conversation; write it out, such as matches \"^[0-9]{5}$\", or compare with ==, contains or startsWith"
				}
				walk(y.Left, false)
				walk(y.Right, false)
			default:
				walk(y.Left, false)
				walk(y.Right, false)
			}
		case *ast.ConditionalNode:
			walk(y.Cond, false)
			walk(y.Exp1, ok)
			walk(y.Exp2, ok)
		case *ast.ChainNode:
			walk(y.Node, ok)
		case *ast.UnaryNode:
			walk(y.Node, false)
		case *ast.CallNode:
			if m, isM := y.Callee.(*ast.MemberNode); isM && len(y.Arguments) > 0 {
				if prop, _ := m.Property.(*ast.StringNode); prop != nil && prop.Value == "Format" && heldByMap(y.Arguments[0]) {
					a := y.Arguments[0]
					from := leftmost(a, len([]rune(e.Src)))
					d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(a.String()))), "format() needs a date, and `%s` may hold anything while chatting, and then the conversation would stop", a.String())
					d.Detail = fmt.Sprintf("read it as a date first: format(date(%s) ?? today(), ...)", a.String())
				}
			}
			c.checkCallArgs(f, n, off, e, y)
			walk(y.Callee, false)
			id, _ := y.Callee.(*ast.IdentifierNode)
			for _, a := range y.Arguments {
				walk(a, id != nil && takesNothing[id.Value])
			}
		case *ast.BuiltinNode:
			c.checkBuiltinArgs(f, n, off, e, y)
			if y.Name == "count" && len(y.Arguments) == 1 {
				if notYesNoItems(y.Arguments[0]) {
					from := leftmost(y, len([]rune(e.Src)))
					d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(y.String()))), "count() without a condition counts the items that are true, and these items are not yes/no, so the conversation would stop")
					d.Detail = fmt.Sprintf("say which items to count, such as count(%s, # > 1), or use len(%s) for all of them", y.Arguments[0].String(), y.Arguments[0].String())
				}
			}
			if y.Name == "reduce" && len(y.Arguments) == 2 {
				from := leftmost(y, len([]rune(e.Src)))
				d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(y.String()))), "reduce() of an empty list has no start value, and then the conversation would stop")
				d.Detail = "give it one as a third argument, such as reduce(items, #acc + #, 0)"
			}
			for _, a := range y.Arguments {
				// The items map, reduce and groupBy make may be nothing.
				if p, ok := a.(*ast.PredicateNode); ok && (y.Name == "map" || y.Name == "reduce" || y.Name == "groupBy") {
					walk(p.Node, true)
					continue
				}
				walk(a, false)
			}
		case *ast.MemberNode:
			walk(y.Node, false)
			walk(y.Property, false)
		case *ast.SliceNode:
			walk(y.Node, false)
			walk(y.From, false)
			walk(y.To, false)
		case *ast.ArrayNode:
			for _, a := range y.Nodes {
				walk(a, true) // a list may hold nothing
			}
		case *ast.MapNode:
			for _, a := range y.Pairs {
				walk(a, true)
			}
		case *ast.PairNode:
			walk(y.Key, false)
			walk(y.Value, true)
		case *ast.PredicateNode:
			walk(y.Node, false)
		case *ast.VariableDeclaratorNode:
			walk(y.Value, true)
			walk(y.Expr, ok)
		case *ast.SequenceNode:
			for i, a := range y.Nodes {
				walk(a, i < len(y.Nodes)-1 || ok)
			}
		}
	}
	walk(root, true)
	c.rootNothing = mayBeNothing(root)
}

// leftmost is the rune offset where x starts in its source of n runes:
// the smallest offset of its nodes (an operator's own is its symbol's).
func leftmost(x ast.Node, n int) int {
	from := n
	ast.Walk(&x, visitFunc(func(m *ast.Node) {
		if l := (*m).Location().From; l >= 0 && l < from {
			from = l
		}
	}))
	if from >= n {
		return 0
	}
	return from
}

// fallbackFor is an example value to write after ?? for x, a value that
// may be nothing.
func fallbackFor(x ast.Node) string {
	if c, ok := x.(*ast.CallNode); ok {
		if id, ok := c.Callee.(*ast.IdentifierNode); ok {
			switch id.Value {
			case "int", "float", engine.DivFunc, engine.ModFunc, engine.PowFunc, engine.AggFunc, engine.ArithFunc:
				return "0"
			case "date", engine.DateFunc, engine.DateAnyFunc:
				return "today()"
			case "duration":
				return `duration("0s")`
			}
		}
	}
	return zeroOf(x.Type())
}

// zeroOf is an example fallback for a value of type t, as written in an
// expression.
func zeroOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Time]():
		return "today()"
	case t == reflect.TypeFor[time.Duration]():
		return `duration("0s")`
	case t == nil:
		return "''"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Float64:
		return "0"
	case reflect.Bool:
		return "false"
	case reflect.Slice:
		return "[]"
	}
	return "''"
}

// heldByMap reports whether x is a value read from a map or a list of
// any kind (order.day, get(order, "day"), items[0]): it may hold anything
// while chatting.
func heldByMap(x ast.Node) bool {
	if x.Type() != reflect.TypeFor[any]() {
		return false
	}
	switch y := x.(type) {
	case *ast.MemberNode:
		return true
	case *ast.ChainNode:
		return heldByMap(y.Node)
	case *ast.CallNode:
		id, _ := y.Callee.(*ast.IdentifierNode)
		return id != nil && (id.Value == engine.FieldFunc || id.Value == engine.GetFunc || id.Value == engine.AtAnyFunc)
	}
	return false
}

// takesNothing are the hidden built-ins that have a value for nothing:
// false, no items, no keys, nothing.
var takesNothing = map[string]bool{
	engine.BoolFunc: true, engine.ListFunc: true, engine.MapFunc: true, engine.InFunc: true,
	engine.FieldFunc: true, engine.GetFunc: true, engine.SliceableFunc: true,
	engine.FromPairsFunc: true,
}

// durationType is the type of duration("1h").
var durationType = reflect.TypeOf(time.Duration(0))

// checkCallArgs reports calls whose arguments expr's checker lets through
// but that would stop the conversation whatever the data: a duration
// where abs, ceil, floor, round, max or min need a number, and an order
// other than "asc" or "desc" written in a sort.
func (c *compiler) checkCallArgs(f *fileCtx, n *yaml.Node, off int, e *engine.Expr, y *ast.CallNode) {
	id, _ := y.Callee.(*ast.IdentifierNode)
	if id == nil {
		return
	}
	at := func(a ast.Node) source.Range {
		return f.rngAt(n, off+leftmost(a, len([]rune(e.Src))), len([]rune(a.String())))
	}
	switch id.Value {
	case "sort", engine.SortFunc:
		if len(y.Arguments) > 1 {
			if o, ok := y.Arguments[1].(*ast.StringNode); ok && o.Value != "asc" && o.Value != "desc" {
				d := c.diags.Errorf(at(o), "sort() orders \"asc\" (the default) or \"desc\", not %q", o.Value)
				suggest(d, o.Value, []string{"asc", "desc"})
			}
		}
	}
}

// checkBuiltinArgs reports a duration where abs, ceil, floor, round, max
// or min need a number: expr's checker lets it through (a duration is a
// whole number inside), and the conversation would stop on it.
func (c *compiler) checkBuiltinArgs(f *fileCtx, n *yaml.Node, off int, e *engine.Expr, y *ast.BuiltinNode) {
	switch y.Name {
	case "abs", "ceil", "floor", "round", "max", "min":
	default:
		return
	}
	for _, a := range y.Arguments {
		if a.Type() == durationType {
			rng := f.rngAt(n, off+leftmost(a, len([]rune(e.Src))), len([]rune(a.String())))
			d := c.diags.Errorf(rng, "%s() needs a number, and `%s` is a duration", y.Name, a.String())
			d.Detail = "compare durations with < and >, or add one to a date: now() + duration(\"1h\")"
			return
		}
	}
}

// notYesNoItems reports whether x is a list whose items are known and not
// all yes/no: a list of another type, or a list written out.
func notYesNoItems(x ast.Node) bool {
	if k, ok := x.(*ast.ConstantNode); ok {
		if items, ok := k.Value.([]any); ok {
			for _, it := range items {
				if _, isBool := it.(bool); !isBool {
					return true
				}
			}
			return false
		}
	}
	if a, ok := x.(*ast.ArrayNode); ok {
		for _, it := range a.Nodes {
			if t := it.Type(); t != nil && t.Kind() != reflect.Bool && t.Kind() != reflect.Interface {
				return true
			}
		}
		return false
	}
	t := x.Type()
	return t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && t.Elem().Kind() != reflect.Bool && t.Elem().Kind() != reflect.Interface
}

// worldRE is a built-in of the clock as the compiler rewrote it.
var worldRE = regexp.MustCompile(`__world__\.([A-Z])`)

// worldless is an expression's text with today() and its kin as written.
func worldless(s string) string {
	return worldRE.ReplaceAllStringFunc(s, func(m string) string { return strings.ToLower(m[len(m)-1:]) })
}
