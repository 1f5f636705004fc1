package engine

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/compiler"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
)

// worldVar is the hidden env entry that carries the World into expressions.
// Calls to the built-ins that need it are rewritten at compile time from
// agents_online("sales") to __world__.AgentsOnline("sales").
const worldVar = "__world__"

// World is what expressions may know of the outside: the event's time, and
// presence and opening hours per team. It comes in with each event.
type World struct {
	now    time.Time
	online map[string]int
	open   map[string]bool
	locale string // the session's, for format()
	hours  Hours  // the program's, for open_hours()
}

// Now returns the event time.
func (w *World) Now() time.Time { return w.now }

// Today returns the event's day: midnight UTC of the event time, a date
// like those `input: date` saves.
func (w *World) Today() time.Time { return dateOf(w.now) }

// Format writes t in the session's language; see FormatDate.
func (w *World) Format(t time.Time, style string) string { return FormatDate(t, style, w.locale) }

// AgentsOnline returns how many agents of team are online.
func (w *World) AgentsOnline(team string) int { return w.online[team] }

// OpenHours reports whether team is within its opening hours: what the
// event says for the team (a test's open_hours, chat's --open), else what
// the playbook folder's hours.yaml says at the event time, else closed.
func (w *World) OpenHours(team string) bool {
	if v, ok := w.open[team]; ok {
		return v
	}
	open, _ := w.hours.Open(team, w.now)
	return open
}

// worldFuncs maps a built-in's name in playbooks to its World method.
var worldFuncs = map[string]string{
	"now":           "Now",
	"today":         "Today",
	"format":        "Format",
	"agents_online": "AgentsOnline",
	"open_hours":    "OpenHours",
}

// Builtins lists the functions playbooks may call besides expr's own, for
// documentation and "did you mean" suggestions.
var Builtins = []string{"now", "today", "date", "format", "duration", "agents_online", "open_hours", "round_robin", "lower", "upper", "trim", "len"}

// RoundRobinPrefix marks an owner chosen by round robin among a team's
// agents: round_robin("sales") evaluates to "round_robin:sales", and the CRM
// resolves it to an agent when it creates the record.
const RoundRobinPrefix = "round_robin:"

// Env is the typed environment expressions compile against: the declared
// vars, `visitor`, and the built-ins.
type Env struct {
	types map[string]any
	opts  []expr.Option

	// mu guards configs: expr's compile configuration, built once per Env
	// (plain and as-bool) instead of once per expression, which was a fifth
	// of a 1,000-card playbook's load (expr.Compile copies every built-in
	// into a new map each call). Compiling through one config is what
	// expr.Compile does; the lock keeps its caches to one compile at a time.
	mu       sync.Mutex
	configs  [2]*conf.Config
	boolRoot boolRootPatcher // for the as-bool config, under mu
}

// boolRootPatcher makes a condition whose type is only known while
// chatting (a map field, an any var) false unless it is true: expr's
// AsBool would stop the conversation on a number.
type boolRootPatcher struct {
	root *ast.Node
	p    totalPatcher
}

func (b *boolRootPatcher) Visit(node *ast.Node) {
	if node == b.root && (b.p.dynamic(*node) || b.dynamicDefault(*node)) {
		if c, ok := (*node).(*ast.CallNode); ok {
			if id, ok := c.Callee.(*ast.IdentifierNode); ok && id.Value == BoolFunc {
				return
			}
		}
		ast.Patch(node, call(BoolFunc, *node, *node))
	}
}

// dynamicDefault reports whether n is `x ?? y` with x or y of a type only
// known while chatting: expr types it as y's type (`v ?? true` is a
// yes/no), but x may be a text.
func (b *boolRootPatcher) dynamicDefault(n ast.Node) bool {
	bn, ok := n.(*ast.BinaryNode)
	return ok && bn.Operator == "??" && (b.p.dynamic(bn.Left) || b.p.dynamic(bn.Right) || b.dynamicDefault(bn.Right))
}

// NewEnv builds the compile-time environment for vars.
func NewEnv(vars []*VarDecl) *Env {
	types := make(map[string]any, len(vars)+2)
	anyVars := map[string]bool{}
	for _, v := range vars {
		types[v.Name] = ZeroOf(v.Type)
		if v.Type == TypeAny {
			anyVars[v.Name] = true
		}
	}
	types["visitor"] = Visitor{}
	types[worldVar] = (*World)(nil)
	e := &Env{types: types}
	e.boolRoot.p = totalPatcher{anyVars: anyVars}
	e.opts = []expr.Option{
		expr.Env(types),
		expr.DisableBuiltin("now"),
		expr.DisableBuiltin("duration"),
		expr.DisableBuiltin("date"),
		expr.DisableBuiltin("timezone"),
		expr.Function("date", func(params ...any) (any, error) {
			d, err := dateArg(params[0], time.Time{})
			if err != nil {
				return nil, nil // not a date: nothing (see total.go)
			}
			return d, nil
		}, new(func(string) time.Time), new(func(time.Time) time.Time)),
		expr.Function(dayFunc, func(params ...any) (any, error) {
			t, _ := params[0].(time.Time)
			return dateOf(t), nil
		}, new(func(time.Time) time.Time)),
		expr.Function("duration", func(params ...any) (any, error) {
			d, err := ParseDuration(params[0].(string))
			if err != nil {
				return nil, nil // not a duration: nothing (see total.go)
			}
			return d, nil
		}, new(func(string) time.Duration)),
		expr.Function("round_robin", func(params ...any) (any, error) {
			return RoundRobinPrefix + params[0].(string), nil
		}, new(func(string) string)),
		expr.Patch(worldPatcher{}),
		expr.Patch(dayPatcher{}),
		expr.Patch(visitorDefaultPatcher{}),
		expr.Patch(totalPatcher{anyVars: anyVars}),
		expr.MaxNodes(2000),
	}
	e.opts = append(e.opts, totalFuncs()...)
	e.opts = append(e.opts, typedFuncs()...)
	return e
}

// Names returns every name an expression may use, for suggestions.
func (e *Env) Names() []string {
	names := make([]string, 0, len(e.types)+len(Builtins))
	for n := range e.types {
		if n != worldVar {
			names = append(names, n)
		}
	}
	return append(names, Builtins...)
}

// Compile compiles src. When want is not empty the result must be of that
// type (TypeAny accepts anything); nil results are always accepted since
// unset vars are nil.
func (e *Env) Compile(src string, want Type) (*vm.Program, error) {
	prog, err := e.compile(src, want == TypeBool)
	if err != nil {
		return nil, err
	}
	if want != "" && want != TypeAny && want != TypeBool {
		if got := prog.Node().Type(); !assignable(got, want) {
			return nil, &TypeError{Want: want, Got: typeName(got)}
		}
	}
	return prog, nil
}

// compile is expr.Compile(src, e.opts...) (plus expr.AsBool() when
// asBool) on a configuration made once per Env.
func (e *Env) compile(src string, asBool bool) (*vm.Program, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	i := 0
	if asBool {
		i = 1
	}
	config := e.configs[i]
	if config == nil {
		config = conf.CreateNew()
		for _, op := range e.opts {
			op(config)
		}
		if asBool {
			expr.AsBool()(config)
			config.Visitors = append(config.Visitors, &e.boolRoot)
		}
		for name := range config.Disabled {
			delete(config.Builtins, name)
		}
		config.Check()
		e.configs[i] = config
	}
	tree, err := parser.ParseWithConfig(src, config)
	if err != nil {
		return nil, err
	}
	e.boolRoot.root = &tree.Node
	if _, err := new(checker.Checker).PatchAndCheck(tree, config); err != nil {
		return nil, err
	}
	// expr does not check again a call that has a type from a check
	// before the patchers ran, so an error inside a hidden built-in's
	// arguments (an unknown name, mismatched types) would be lost, and an
	// argument would keep the type it had before (date(v) of an any var
	// is a date only once patched): forget the calls' types and check
	// once more.
	ast.Walk(&tree.Node, visitFunc(func(n *ast.Node) {
		if c, ok := (*n).(*ast.CallNode); ok {
			c.SetNature(nature.Nature{})
		}
	}))
	if _, err := checker.Check(tree, config); err != nil {
		return nil, err
	}
	if config.Optimize {
		if err := optimizer.Optimize(&tree.Node, config); err != nil {
			var fileError *file.Error
			if errors.As(err, &fileError) {
				return nil, fileError.Bind(tree.Source)
			}
			return nil, err
		}
	}
	return compiler.Compile(tree, config)
}

// TypeError says an expression's type does not fit where it is used.
type TypeError struct {
	Want Type
	Got  string
}

func (e *TypeError) Error() string {
	article := "a"
	if strings.ContainsRune("aeiou", rune(e.Want[0])) {
		article = "an"
	}
	return fmt.Sprintf("expression is %s, but %s %s is needed here", e.Got, article, e.Want)
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "unknown"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if t == reflect.TypeFor[time.Duration]() {
			return "a duration"
		}
		return "an int"
	case reflect.Bool:
		return "a bool"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map:
		return "a map"
	}
	if t == reflect.TypeFor[time.Time]() {
		return "a date"
	}
	return t.String()
}

func assignable(got reflect.Type, want Type) bool {
	if got == nil || got.Kind() == reflect.Interface {
		return true // unknown until run time: checked then
	}
	switch want {
	case TypeString, TypeEmail, TypePhone, TypeURL:
		return got.Kind() == reflect.String
	case TypeNumber:
		k := got.Kind()
		return k == reflect.Float64 || k == reflect.Float32 || (k >= reflect.Int && k <= reflect.Int64 && got != reflect.TypeFor[time.Duration]())
	case TypeInt:
		k := got.Kind()
		return k >= reflect.Int && k <= reflect.Int64 && got != reflect.TypeFor[time.Duration]()
	case TypeBool:
		return got.Kind() == reflect.Bool
	case TypeDate:
		return got == reflect.TypeFor[time.Time]()
	case TypeList:
		return got.Kind() == reflect.Slice || got.Kind() == reflect.Array
	case TypeMap:
		return got.Kind() == reflect.Map
	}
	return true
}

// ZeroOf returns the value that stands for type t at compile time.
func ZeroOf(t Type) any {
	switch t {
	case TypeString, TypeEmail, TypePhone, TypeURL:
		return ""
	case TypeNumber:
		return float64(0)
	case TypeInt:
		return 0
	case TypeBool:
		return false
	case TypeDate:
		return time.Time{}
	case TypeList:
		return []any{}
	case TypeMap:
		return map[string]any{}
	}
	return nil
}

// worldPatcher rewrites calls of the World built-ins into method calls on
// the hidden __world__ var, so compiled programs stay immutable and the
// per-event World arrives through the env.
type worldPatcher struct{}

func (worldPatcher) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	method, ok := worldFuncs[id.Value]
	if !ok {
		return
	}
	callee := &ast.MemberNode{
		Node:     &ast.IdentifierNode{Value: worldVar},
		Property: &ast.StringNode{Value: method},
		Method:   true,
	}
	callee.SetLocation(id.Location())
	call.Callee = callee
}

// dayFunc is the hidden built-in that takes a date-time's day.
const dayFunc = "__day"

// dayPatcher makes a date compared with a date-time compare days, the way
// people mean it: `start_date >= now()` holds for today, since it becomes
// `start_date >= __day(now())`. Dates are date vars, date() and today(),
// and a date plus or minus a duration; every other time is a date-time.
type dayPatcher struct{}

var timeType = reflect.TypeFor[time.Time]()

func isDate(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Type() == timeType // every time-typed var is a date
	case *ast.CallNode:
		switch c := x.Callee.(type) {
		case *ast.IdentifierNode:
			return c.Value == "date" || c.Value == dayFunc || c.Value == "today" || c.Value == DateFunc || c.Value == DateAnyFunc
		case *ast.MemberNode:
			p, ok := c.Property.(*ast.StringNode)
			return ok && p.Value == "Today"
		}
	case *ast.BinaryNode:
		return (x.Operator == "+" || x.Operator == "-") && isDate(x.Left) && x.Right.Type() != timeType
	}
	return false
}

func (dayPatcher) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok {
		return
	}
	switch b.Operator {
	case "==", "!=", "<", ">", "<=", ">=":
	default:
		return
	}
	if b.Left.Type() != timeType || b.Right.Type() != timeType {
		return
	}
	day := func(n ast.Node) ast.Node {
		c := &ast.CallNode{Callee: &ast.IdentifierNode{Value: dayFunc}, Arguments: []ast.Node{n}}
		c.SetLocation(n.Location())
		return c
	}
	switch l, r := isDate(b.Left), isDate(b.Right); {
	case l && !r:
		b.Right = day(b.Right)
	case r && !l:
		b.Left = day(b.Left)
	}
}

// visitorTextFields are the visitor's text fields; "" means unknown.
var visitorTextFields = map[string]bool{"id": true, "name": true, "email": true, "phone": true, "page": true, "referrer": true, "language": true, "country": true}

// visitorDefaultPatcher makes `visitor.name ?? "there"` give "there" when
// the name is unknown. Visitor fields are plain strings, empty when
// unknown, never nil, so it rewrites `visitor.F ?? D` into
// `visitor.F != "" ? visitor.F : D` for the text fields.
type visitorDefaultPatcher struct{}

func (visitorDefaultPatcher) Visit(node *ast.Node) {
	b, ok := (*node).(*ast.BinaryNode)
	if !ok || b.Operator != "??" {
		return
	}
	m, ok := b.Left.(*ast.MemberNode)
	if !ok {
		return
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	if !ok || id.Value != "visitor" {
		return
	}
	prop, ok := m.Property.(*ast.StringNode)
	if !ok || !visitorTextFields[prop.Value] {
		return
	}
	cond := &ast.ConditionalNode{
		Cond: &ast.BinaryNode{Operator: "!=", Left: b.Left, Right: &ast.StringNode{Value: ""}},
		Exp1: b.Left,
		Exp2: b.Right,
	}
	ast.Patch(node, cond)
}

// ParseDuration parses "90s", "2m", "1h30m", and also days and weeks:
// "2d", "1w", "3 days", "1 week".
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	for _, u := range []struct {
		suffixes []string
		unit     time.Duration
	}{
		{[]string{"weeks", "week", "w"}, 7 * 24 * time.Hour},
		{[]string{"days", "day", "d"}, 24 * time.Hour},
		{[]string{"hours", "hour"}, time.Hour},
		{[]string{"minutes", "minute", "mins", "min"}, time.Minute},
		{[]string{"seconds", "second", "secs", "sec"}, time.Second},
	} {
		for _, suf := range u.suffixes {
			if num, ok := strings.CutSuffix(t, suf); ok {
				n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
				if err != nil {
					break
				}
				return time.Duration(n * float64(u.unit)), nil
			}
		}
	}
	d, err := time.ParseDuration(strings.ReplaceAll(t, " ", ""))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number and a unit, such as 30s, 2m, 1h, 2d or 1w", s)
	}
	return d, nil
}

// visitFunc is an ast.Visitor made of a function.
type visitFunc func(*ast.Node)

func (f visitFunc) Visit(n *ast.Node) { f(n) }
