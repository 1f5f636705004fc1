package dsl

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/file"
	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/netpolicy"
)

// compiler turns one main playbook (and the sub-flows it includes) into an
// engine.Program.
type compiler struct {
	diags   *source.Diagnostics
	opts    options
	main    *fileAST
	files   []*fileAST // main first, then included files in include order
	locale  string
	locales []string
	fallbk  string

	vars    []*engine.VarDecl
	varDecl map[string]*engine.VarDecl
	env     *engine.Env
	hosts   []string
	teams   []string

	cards  []*flatCard
	spaces []*namespace
	// current card being compiled, for recording var reads
	cur *flatCard
	// part is the part of the current card being compiled, for the
	// definite-assignment check: what the card has set by then.
	part readPart
	// nset counts the current card's set assignments compiled so far.
	nset int
	// inHole is set while compiling a template hole: a hole that is just a
	// var shows nothing when the var is unset, so it cannot fail.
	inHole bool
	// rootNothing is set when the expression compiled last may have no
	// value as a whole: int(text), list[i], a / b and the like.
	rootNothing bool
	// broken marks namespaces with a goto (or similar) that names no card:
	// their flow is unknown, so no "never reached" follows from it.
	broken map[*namespace]bool
	// experiments are the experiment names seen so far, with their node.
	experiments map[string]*yaml.Node
	used        map[string]bool // vars read or written anywhere
	read        map[string]bool // vars read anywhere
}

// namespace is one copy of a file's cards in the flat card list: the main
// file's, or a sub-flow's copy for one include card.
type namespace struct {
	file   *fileAST
	prefix string
	index  map[string]int // card name in file -> flat index
	order  []int
	ret    int // where control goes after the last card; -1 = the end
}

// flatCard is one card in the flat list with what the checks need.
type flatCard struct {
	ast   *cardAST
	name  string
	ns    *namespace
	sub   *namespace // for include cards
	card  *engine.Card
	reads []varRead
	// writes are the vars the card may set (save, set, call save).
	writes []string
	// fall is the index of the card that runs after this one when nothing
	// else says where to go; -1 = the end.
	fall int
	// gotoIdx is the card's own goto, -2 when it has none.
	gotoIdx int
	// guessed are vars the card meant to set under a misspelled name
	// (reported): taken as set, so the typo gives one error, not more.
	guessed []string
	// maybeUnset marks the card's set assignments (by index in Card.Set)
	// whose value may be nothing: they do not surely set their var.
	maybeUnset []bool
	// backTo are the nodes of the handoff's back_to entries, in the order
	// of Handoff.BackTo.
	backTo []*yaml.Node
}

type varRead struct {
	name    string
	guarded bool // under ??, compared with == or !=, or a whole template hole: nil cannot fail there
	part    readPart
	nset    int // set assignments of the card that run before the read
	rng     source.Range
}

// readPart is where in its card a var is read, in run order.
type readPart int

const (
	partBefore   readPart = iota // skip_if, say, ask, choices, retry hints: before the answer
	partValidate                 // validate: the answer is in its var
	partSet                      // set, create, call, handoff: after the answer, if any
	partBranch                   // branch: after the call's answer too
)

func (c *compiler) addFile(f *fileAST) {
	c.files = append(c.files, f)
}

// flatten appends fa's cards, and recursively the cards of the sub-flows
// they include, to c.cards.
func (c *compiler) flatten(fa *fileAST, prefix string, stack []string) *namespace {
	ns := &namespace{file: fa, prefix: prefix, index: map[string]int{}, ret: -1}
	c.spaces = append(c.spaces, ns)
	for _, ca := range fa.cards {
		fc := &flatCard{ast: ca, name: prefix + ca.name, ns: ns, gotoIdx: -2, fall: -1}
		ns.index[ca.name] = len(c.cards)
		ns.order = append(ns.order, len(c.cards))
		c.cards = append(c.cards, fc)
		p, ok := ca.keys["include"]
		if !ok {
			continue
		}
		f := fa.f
		id, ok := f.str(p.value, "include")
		if !ok {
			continue
		}
		if slices.Contains(stack, id) {
			f.errorf(p.value, "include cycle: %s", strings.Join(append(stack, id), " → "))
			continue
		}
		sub := c.resolve(f, p.value, id)
		if sub == nil {
			continue
		}
		if len(sub.cards) == 0 {
			f.errorf(p.value, "playbook %q has no cards to include", id)
			continue
		}
		fc.sub = c.flatten(sub, fc.name+"/", append(stack, id))
	}
	return ns
}

func (c *compiler) resolve(f *fileCtx, n *yaml.Node, id string) *fileAST {
	for _, fa := range c.files {
		if fa.id == id {
			return fa
		}
	}
	if c.opts.resolve == nil {
		f.errorf(n, "cannot include %q: no other playbooks are loaded with this one", id)
		return nil
	}
	name, src, ok := c.opts.resolve(id)
	if !ok {
		d := f.errorf(n, "no playbook with id %q to include", id)
		if c.opts.ids != nil {
			suggest(d, id, c.opts.ids())
		}
		return nil
	}
	// Problems inside the included file are reported when it is loaded on
	// its own; here they are collected apart and only their presence stops
	// the include.
	var subDiags source.Diagnostics
	fc := &fileCtx{name: name, src: src, lines: newLineIndex(src), diags: &subDiags}
	fa := parseFile(fc)
	if fa == nil || subDiags.HasErrors() {
		f.errorf(n, "cannot include %q: %s has errors", id, name)
		return nil
	}
	fc.diags = c.diags
	c.addFile(fa)
	return fa
}

// link resolves every namespace's fall-through and return targets, and
// each card's goto, once all cards are in the flat list.
func (c *compiler) link(ns *namespace, ret int) {
	ns.ret = ret
	for j, idx := range ns.order {
		fc := c.cards[idx]
		if j+1 < len(ns.order) {
			fc.fall = ns.order[j+1]
		} else {
			fc.fall = ret
		}
		if p, ok := fc.ast.keys["goto"]; ok {
			fc.gotoIdx = c.cardRef(fc, p.value, "goto")
		}
	}
	for _, idx := range ns.order {
		fc := c.cards[idx]
		if fc.sub != nil {
			after := fc.fall
			if fc.gotoIdx >= -1 {
				after = fc.gotoIdx
			}
			c.link(fc.sub, after)
		}
	}
}

// cardRef resolves a card name written at n within fc's namespace. It
// returns -1 (and reports) when there is no such card.
func (c *compiler) cardRef(fc *flatCard, n *yaml.Node, what string) int {
	f := fc.ast.file.f
	name, ok := f.str(n, what)
	if !ok {
		return -1
	}
	if idx, ok := fc.ns.index[name]; ok {
		return idx
	}
	d := f.errorf(n, "%s: there is no card %q", what, name)
	if c.broken == nil {
		c.broken = map[*namespace]bool{}
	}
	c.broken[fc.ns] = true
	var names []string
	for _, ca := range fc.ns.file.cards {
		names = append(names, ca.name)
	}
	suggest(d, name, names)
	return -1
}

// header reads the main file's top-level settings.
func (c *compiler) header() (title string, bot engine.Bot) {
	fa := c.main
	f := fa.f
	c.locale = "en"
	if p, ok := fa.top["locale"]; ok {
		if s, ok := f.str(p.value, "locale"); ok {
			c.locale = s
			c.checkLocaleCode(f, p.value, s)
		}
	}
	if p, ok := fa.top["locales"]; ok {
		list, nodes := f.strList(p.value, "locales")
		for i, l := range list {
			c.checkLocaleCode(f, nodes[i], l)
			if slices.Contains(c.locales, l) {
				f.errorf(nodes[i], "locale %q is listed twice", l)
				continue
			}
			c.locales = append(c.locales, l)
		}
		if len(list) > 0 && !slices.Contains(list, c.locale) {
			f.errorf(p.value, "`locales` must include the default locale %q", c.locale)
		}
	}
	if i := slices.Index(c.locales, c.locale); i > 0 {
		c.locales = slices.Delete(c.locales, i, i+1)
		c.locales = slices.Insert(c.locales, 0, c.locale)
	} else if i < 0 {
		c.locales = slices.Insert(c.locales, 0, c.locale)
	}
	if p, ok := fa.top["fallback"]; ok {
		if s, ok := f.str(p.value, "fallback"); ok {
			if !slices.Contains(c.locales, s) {
				d := f.errorf(p.value, "fallback locale %q is not one of the locales", s)
				suggest(d, s, c.locales)
			} else {
				c.fallbk = s
			}
		}
	}
	if p, ok := fa.top["title"]; ok {
		title, _ = f.str(p.value, "title")
	}
	if p, ok := fa.top["bot"]; ok {
		for _, bp := range f.pairs(p.value, "bot", botKeys) {
			s, ok := f.str(bp.value, "bot."+bp.key.Value)
			if !ok {
				continue
			}
			switch bp.key.Value {
			case "name":
				bot.Name = s
			case "avatar":
				bot.Avatar = s
			case "color":
				if !colorRE.MatchString(s) {
					f.errorf(bp.value, "bot color %q must be a hex color such as \"#0b7a75\" (quote it: # starts a comment)", s)
				}
				bot.Color = s
			}
		}
	}
	if p, ok := fa.top["allow_hosts"]; ok {
		var nodes []*yaml.Node
		c.hosts, nodes = f.strList(p.value, "allow_hosts")
		for i, h := range c.hosts {
			// Loads anyway: a server run with --allow-private-calls (a
			// service on your own network) may reach it.
			if err := netpolicy.CheckHost(h); err != nil {
				d := f.warnf(nodes[i], "allow_hosts: %v; the server refuses calls to it unless it runs with --allow-private-calls", err)
				d.Detail = "list the API's public host name; a service on your own network needs serve --allow-private-calls"
			}
		}
	}
	return title, bot
}

var (
	colorRE  = regexp.MustCompile(`^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)
	localeRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$`)
)

func (c *compiler) checkLocaleCode(f *fileCtx, n *yaml.Node, l string) {
	if !localeRE.MatchString(l) {
		f.errorf(n, "%q is not a locale code: use a language code such as en, es, fr, de or pt-BR", l)
	}
}

var varKeys = []string{"type", "default", "pii", "label"}

var varTypes = []string{"string", "number", "int", "bool", "email", "phone", "url", "date", "list", "map", "any"}

// declareVars reads the vars of every file, main first. A var declared in
// two files must have the same type.
func (c *compiler) declareVars() {
	c.varDecl = map[string]*engine.VarDecl{}
	for _, fa := range c.files {
		p, ok := fa.top["vars"]
		if !ok {
			continue
		}
		f := fa.f
		for _, vp := range f.pairs(p.value, "vars", nil) {
			name := vp.key.Value
			if !identRE.MatchString(name) {
				f.errorf(vp.key, "var name %q must start with a letter and have only letters, digits and underscores", name)
				continue
			}
			if name == "visitor" || slices.Contains(engine.Builtins, name) {
				f.errorf(vp.key, "%q is a built-in name; choose another name for the var", name)
				continue
			}
			v := &engine.VarDecl{Name: name, Type: engine.TypeAny, Pos: f.rng(vp.key)}
			var defNode *yaml.Node
			switch vp.value.Kind {
			case yaml.ScalarNode:
				if vp.value.Tag != "!!null" {
					v.Type = c.varType(f, vp.value)
				}
			default:
				for _, kp := range f.pairs(vp.value, "var "+quote(name), varKeys) {
					switch kp.key.Value {
					case "type":
						v.Type = c.varType(f, kp.value)
					case "pii":
						v.PII = kp.value.Value == "true"
						if kp.value.Tag != "!!bool" {
							f.errorf(kp.value, "pii must be true or false")
						}
					case "default":
						defNode = kp.value
					case "label":
						v.Label = c.varLabel(f, kp.value, name)
					}
				}
			}
			if defNode != nil {
				v.Default = c.literal(f, defNode, v.Type, "default of "+name)
			}
			if old, ok := c.varDecl[name]; ok {
				if old.Type != v.Type {
					f.errorf(vp.key, "var %q is %s here but %s in %s", name, v.Type, old.Type, old.Pos)
				}
				continue
			}
			c.varDecl[name] = v
			c.vars = append(c.vars, v)
		}
	}
}

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// varLabel reads a var's label: plain text (in the default locale) or a
// map of the playbook's locales to plain texts. A locale left out shows
// the default locale's label; no {{ }} (it names the var, it shows no
// value).
func (c *compiler) varLabel(f *fileCtx, n *yaml.Node, name string) map[string]string {
	what := "label of var " + quote(name)
	n = resolveAlias(n)
	out := map[string]string{}
	one := func(l string, v *yaml.Node) {
		s, ok := f.str(v, what)
		if !ok {
			return
		}
		switch {
		case strings.TrimSpace(s) == "":
			f.errorf(v, "%s is empty", what)
		case strings.Contains(s, "{{"):
			f.errorf(v, "%s is plain text: it names the var and shows no values", what)
		case len(s) > 80:
			f.errorf(v, "%s is longer than 80 characters", what)
		default:
			out[l] = s
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		one(c.locale, n)
	case yaml.MappingNode:
		for _, p := range f.pairs(n, what, nil) {
			if !slices.Contains(c.locales, p.key.Value) {
				d := f.errorf(p.key, "%s: %q is not one of the playbook's locales (%s)", what, p.key.Value, strings.Join(c.locales, ", "))
				suggest(d, p.key.Value, c.locales)
				continue
			}
			one(p.key.Value, p.value)
		}
	default:
		f.errorf(n, "%s must be a text or a map of locales to texts, not %s", what, kindName(n))
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (c *compiler) varType(f *fileCtx, n *yaml.Node) engine.Type {
	s, ok := f.str(n, "type")
	if !ok {
		return engine.TypeAny
	}
	if !slices.Contains(varTypes, s) {
		d := f.errorf(n, "unknown type %q", s)
		suggest(d, s, varTypes)
		if d.Detail == "" {
			d.Detail = "types are " + strings.Join(varTypes, ", ")
		}
		return engine.TypeAny
	}
	return engine.Type(s)
}

// literal converts a YAML scalar to a Go value of type t.
func (c *compiler) literal(f *fileCtx, n *yaml.Node, t engine.Type, what string) any {
	if n.Kind == yaml.SequenceNode && (t == engine.TypeList || t == engine.TypeAny) {
		var out []any
		for _, e := range n.Content {
			out = append(out, c.literal(f, e, engine.TypeAny, what))
		}
		return out
	}
	s, ok := f.str(n, what)
	if !ok {
		return nil
	}
	bad := func() any {
		f.errorf(n, "%s: %q is not a %s", what, s, t)
		return nil
	}
	switch t {
	case engine.TypeNumber:
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return bad()
		}
		return v
	case engine.TypeInt:
		v, err := strconv.Atoi(s)
		if err != nil {
			return bad()
		}
		return v
	case engine.TypeBool:
		switch s {
		case "true":
			return true
		case "false":
			return false
		}
		return bad()
	case engine.TypeDate:
		v, err := time.Parse("2006-01-02", s)
		if err != nil {
			return bad()
		}
		return v
	case engine.TypeList, engine.TypeMap:
		return bad()
	case engine.TypeAny:
		switch n.Tag {
		case "!!int":
			if v, err := strconv.Atoi(s); err == nil {
				return v
			}
		case "!!float":
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				return v
			}
		case "!!bool":
			return s == "true"
		}
	}
	return s
}

// compileExpr compiles the whole value of scalar n as an expression that
// must be of type want ("" = any).
func (c *compiler) compileExpr(f *fileCtx, n *yaml.Node, want engine.Type, what string) *engine.Expr {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		f.errorf(n, "%s must be an expression, not %s", what, kindName(n))
		return nil
	}
	return c.exprAt(f, n, 0, n.Value, want)
}

// exprAt compiles src, which stands at rune offset off of scalar n's value.
func (c *compiler) exprAt(f *fileCtx, n *yaml.Node, off int, src string, want engine.Type) *engine.Expr {
	rng := f.rngAt(n, off, len([]rune(src)))
	prog, err := c.env.Compile(src, want)
	if err != nil {
		c.exprError(f, n, off, src, err)
		return nil
	}
	e := &engine.Expr{Src: src, Pos: rng, Prog: prog}
	c.recordReads(f, n, off, e)
	return e
}

var visitorFields = []string{"id", "name", "email", "phone", "consent", "page", "referrer", "language", "country", "returning", "visits", "utm"}

// markUsed marks the vars named in src, an expression that did not
// compile, as used: its error is the one diagnostic, not "never used" too.
func (c *compiler) markUsed(src string) {
	for _, w := range wordRE.FindAllString(src, -1) {
		if _, ok := c.varDecl[w]; ok {
			c.used[w] = true
		}
	}
}

// calledAt reports whether name, at rune offset at of src, is called.
func calledAt(src string, at int, name string) bool {
	rs := []rune(src)
	i := at + len([]rune(name))
	for i < len(rs) && rs[i] == ' ' {
		i++
	}
	return i < len(rs) && rs[i] == '('
}

// functionNames are the functions an expression may call.
func functionNames() []string {
	names := slices.Clone(engine.Builtins)
	for _, b := range builtin.Names {
		if !slices.Contains(engine.RemovedBuiltins, b) {
			names = append(names, b)
		}
	}
	return names
}

var patternRE = regexp.MustCompile(`matches\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)')`)

// patternAt finds the first `matches "pattern"` in src that does not
// compile, and the rune offset of the pattern inside src.
func patternAt(src string) (string, int, bool) {
	for _, m := range patternRE.FindAllStringSubmatchIndex(src, -1) {
		lo, hi := m[2], m[3]
		if lo < 0 {
			lo, hi = m[4], m[5]
		}
		pat := src[lo:hi]
		if _, err := regexp.Compile(pat); err != nil {
			return pat, len([]rune(src[:lo])), true
		}
	}
	return "", 0, false
}

// plainRegexpError says what is wrong with a pattern in plain words.
func plainRegexpError(msg string) string {
	for code, plain := range map[string]string{
		"missing closing )":                       "a ( is never closed",
		"unexpected )":                            "a ) has no ( before it",
		"missing closing ]":                       "a [ is never closed",
		"missing argument to repetition operator": "a *, + or ? has nothing before it to repeat",
		"invalid nested repetition operator":      "two of *, + and ? in a row",
		"invalid escape sequence":                 "a \\ before a letter that means nothing in a pattern",
		"trailing backslash at end of expression": "it ends with a \\",
		"invalid character class range":           "a range such as [z-a] goes backwards",
		"invalid repeat count":                    "a {n,m} count is too large or backwards",
	} {
		if strings.HasPrefix(msg, code) {
			return plain
		}
	}
	return msg
}

var (
	regexpErrRE    = regexp.MustCompile(`error parsing regexp: (.*)$`)
	unknownNameRE  = regexp.MustCompile(`^unknown name (\S+)`)
	unknownFieldRE = regexp.MustCompile(`^type engine\.Visitor has no field (\S+)`)
	// expr's words for a value of no known type (an `any` var) passed
	// where a built-in needs one type.
	nilArgRE = regexp.MustCompile(`^cannot use nil as argument \(type ([^)]+)\) to call (\w+)`)
)

func (c *compiler) exprError(f *fileCtx, n *yaml.Node, off int, src string, err error) {
	var te *engine.TypeError
	if errors.As(err, &te) {
		f.diags.Errorf(f.rngAt(n, off, len([]rune(src))), "%s", te.Error())
		return
	}
	var fe *file.Error
	if !errors.As(err, &fe) {
		f.diags.Errorf(f.rngAt(n, off, 0), "in expression: %s", engine.PlainTypes(err.Error()))
		return
	}
	msg := fe.Message
	at := fe.From
	if at < 0 || at > len([]rune(src)) {
		at = 0
	}
	length := 0
	var sugg string
	c.markUsed(src)
	if m := unknownNameRE.FindStringSubmatch(msg); m != nil && calledAt(src, at, m[1]) {
		length = len([]rune(m[1]))
		msg = fmt.Sprintf("unknown function %q", m[1])
		sugg = source.Suggest(m[1], functionNames())
		if sugg == "" {
			d := f.diags.Errorf(f.rngAt(n, off+at, length), "%s", msg)
			d.Detail = "the functions are " + strings.Join(engine.Builtins, ", ") + ", and expr's own such as split, join, replace, round"
			return
		}
	} else if m := regexpErrRE.FindStringSubmatch(msg); m != nil {
		if pat, pos, ok := patternAt(src); ok {
			d := f.diags.Errorf(f.rngAt(n, off+pos, len([]rune(pat))), "the pattern %q is not a valid regular expression: %s", pat, plainRegexpError(m[1]))
			d.Detail = "inside a pattern, write \\. for a dot, \\( for a bracket; a pattern in double quotes in YAML needs each \\ doubled, or use single quotes"
			return
		}
	} else if m := unknownNameRE.FindStringSubmatch(msg); m != nil {
		length = len([]rune(m[1]))
		msg = fmt.Sprintf("unknown name %q: it is not a declared var or a built-in", m[1])
		sugg = source.Suggest(m[1], c.env.Names())
		if _, isVar := c.varDecl[sugg]; isVar {
			c.used[sugg] = true // not "never used" as well
		}
		if sugg == "" && slices.Contains(visitorFields, m[1]) {
			sugg = "visitor." + m[1]
		}
	} else if m := unknownFieldRE.FindStringSubmatch(msg); m != nil {
		length = len([]rune(m[1]))
		msg = fmt.Sprintf("visitor has no field %q", m[1])
		sugg = source.Suggest(m[1], visitorFields)
	} else if m := nilArgRE.FindStringSubmatch(msg); m != nil {
		fn := strings.ToLower(m[2][:1]) + m[2][1:]
		want := engine.PlainTypes(m[1])
		d := f.diags.Errorf(f.rngAt(n, off+at, 0), "%s() needs a %s here, and this value may hold anything while chatting", fn, want)
		if want == "date" {
			d.Detail = fmt.Sprintf("read it as a date first, such as %s(date(x) ?? today(), ...)", fn)
		} else {
			d.Detail = fmt.Sprintf("give it a %s: convert the value first, with a default after ??", want)
		}
		return
	} else {
		msg = "in expression: " + engine.PlainTypes(msg)
	}
	d := f.diags.Errorf(f.rngAt(n, off+at, length), "%s", msg)
	if sugg != "" {
		d.Detail = fmt.Sprintf("did you mean %q?", sugg)
	}
}

// hole compiles the expression of a template hole.
func (c *compiler) hole(f *fileCtx, n *yaml.Node, off int, src string) *engine.Expr {
	c.inHole = true
	defer func() { c.inHole = false }()
	return c.exprAt(f, n, off, src, "")
}

// template compiles a text with {{ expr }} holes. n is the scalar holding it.
func (c *compiler) template(f *fileCtx, n *yaml.Node) *engine.Template {
	s := n.Value
	t := &engine.Template{}
	if !strings.Contains(s, "{{") && !strings.Contains(s, "}}") {
		t.Static, t.IsStatic = s, true
		t.Parts = []engine.Part{{Lit: s}}
		return t
	}
	rs := []rune(s)
	var lit []rune
	ok := true
	for i := 0; i < len(rs); {
		if i+1 < len(rs) && rs[i] == '{' && rs[i+1] == '{' {
			end := -1
			for j := i + 2; j+1 < len(rs); j++ {
				if rs[j] == '}' && rs[j+1] == '}' {
					end = j
					break
				}
			}
			if end < 0 {
				d := f.diags.Errorf(f.rngAt(n, i, 2), "template: `{{` is never closed with `}}`")
				d.Detail = "write {{ expression }}, for example {{ email }}"
				return nil
			}
			inner := string(rs[i+2 : end])
			lead := len([]rune(inner)) - len([]rune(strings.TrimLeft(inner, " \t")))
			src := strings.TrimSpace(inner)
			if src == "" {
				f.diags.Errorf(f.rngAt(n, i, end+2-i), "template: empty {{ }}")
				ok = false
			} else if e := c.hole(f, n, i+2+lead, src); e != nil {
				if len(lit) > 0 {
					t.Parts = append(t.Parts, engine.Part{Lit: string(lit)})
					lit = nil
				}
				t.Parts = append(t.Parts, engine.Part{Expr: e})
			} else {
				ok = false
			}
			i = end + 2
			continue
		}
		if i+1 < len(rs) && rs[i] == '}' && rs[i+1] == '}' {
			d := f.diags.Errorf(f.rngAt(n, i, 2), "template: `}}` without a `{{` before it")
			d.Detail = "write {{ expression }}"
			return nil
		}
		lit = append(lit, rs[i])
		i++
	}
	if len(lit) > 0 {
		t.Parts = append(t.Parts, engine.Part{Lit: string(lit)})
	}
	if !ok {
		return nil
	}
	return t
}

// text compiles a text: a string (in the default locale) or a locale map.
func (c *compiler) text(f *fileCtx, n *yaml.Node, what string) *engine.Text {
	n = resolveAlias(n)
	t := &engine.Text{ByLocale: map[string]*engine.Template{}, Pos: f.rng(n)}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			f.errorf(n, "%s is empty", what)
			return nil
		}
		if tm := c.template(f, n); tm != nil {
			t.ByLocale[c.locale] = tm
		}
		if len(c.locales) > 1 && c.fallbk == "" {
			d := f.errorf(n, "%s has no %s version", what, strings.Join(c.locales[1:], ", "))
			d.Detail = fmt.Sprintf("write it as a map {%s: ..., %s: ...}, or set `fallback: %s` at the top", c.locales[0], c.locales[1], c.locale)
		}
	case yaml.MappingNode:
		var have []string
		for _, p := range f.pairs(n, what, nil) {
			l := p.key.Value
			if !slices.Contains(c.locales, l) {
				d := f.errorf(p.key, "%s: %q is not one of the playbook's locales (%s)", what, l, strings.Join(c.locales, ", "))
				suggest(d, l, c.locales)
				continue
			}
			if _, ok := f.str(p.value, what+" ("+l+")"); !ok {
				continue
			}
			have = append(have, l)
			if tm := c.template(f, p.value); tm != nil {
				t.ByLocale[l] = tm
			}
		}
		var missing []string
		for _, l := range c.locales {
			if !slices.Contains(have, l) {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 && c.fallbk == "" {
			d := f.errorf(n, "%s has no %s version", what, strings.Join(missing, ", "))
			d.Detail = "every text needs every locale listed in `locales`, or set `fallback:`"
		} else if len(missing) > 0 && !slices.Contains(have, c.fallbk) {
			f.errorf(n, "%s has no %s version, and %s is the fallback", what, c.fallbk, c.fallbk)
		}
	default:
		f.errorf(n, "%s must be a text or a map of locales to texts, not %s", what, kindName(n))
		return nil
	}
	return t
}

// program compiles everything and returns the program (nil on errors).
func (c *compiler) program() *engine.Program {
	title, bot := c.header()
	root := c.flatten(c.main, "", []string{c.main.id})
	c.declareVars()
	c.env = engine.NewEnv(c.vars)
	c.used = map[string]bool{}
	c.read = map[string]bool{}
	c.link(root, -1)

	var trig *engine.Trigger
	if p, ok := c.main.top["trigger"]; ok {
		trig = c.trigger(c.main.f, p.value)
	}
	var pre *engine.Prechat
	if p, ok := c.main.top["prechat"]; ok {
		pre = c.prechat(c.main.f, p.key, p.value)
	}
	cards := make([]*engine.Card, len(c.cards))
	for i, fc := range c.cards {
		cards[i] = c.card(fc)
	}
	c.analyze()
	if c.diags.HasErrors() {
		return nil
	}
	for _, fc := range c.cards {
		if fc.card.Handoff != nil && !slices.Contains(c.teams, fc.card.Handoff.Team) {
			c.teams = append(c.teams, fc.card.Handoff.Team)
		}
	}
	slices.Sort(c.teams)
	h := sha256.New()
	var files []string
	for _, fa := range c.files {
		fmt.Fprintf(h, "%s\x00%d\x00", fa.id, len(fa.f.src))
		h.Write(fa.f.src)
		files = append(files, fa.f.name)
	}
	return engine.NewProgram(&engine.Program{
		ID:       c.main.id,
		Title:    title,
		Hash:     hex.EncodeToString(h.Sum(nil)),
		Locale:   c.locale,
		Locales:  c.locales,
		Fallback: c.fallbk,
		Bot:      bot,
		Trigger:  trig,
		Prechat:  pre,
		Vars:     c.vars,
		Cards:    cards,
		Teams:    c.teams,
		Files:    files,
	})
}

var triggerKeys = []string{"pages", "delay", "campaign", "when"}

func (c *compiler) trigger(f *fileCtx, n *yaml.Node) *engine.Trigger {
	t := &engine.Trigger{}
	c.cur = nil
	for _, p := range f.pairs(n, "trigger", triggerKeys) {
		switch p.key.Value {
		case "pages":
			pages, nodes := f.strList(p.value, "trigger.pages")
			for i, pg := range pages {
				if !strings.HasPrefix(pg, "/") && !strings.HasPrefix(pg, "*") {
					f.errorf(nodes[i], "page %q must be a path starting with / (such as /pricing*)", pg)
				}
			}
			t.Pages = pages
		case "delay":
			t.Delay = c.duration(f, p.value, "trigger.delay", 0)
		case "campaign":
			t.Campaign = c.text(f, p.value, "the campaign message")
		case "when":
			t.When = c.compileExpr(f, p.value, engine.TypeBool, "trigger.when")
		}
	}
	return t
}

var (
	prechatKeys      = append([]string{"intro"}, engine.PrechatFields...)
	prechatFieldKeys = []string{"label", "required"}
)

// prechat compiles the pre-chat form: an intro text and the fields name,
// email, phone and consent, each `true`, `required`, or {label, required}.
func (c *compiler) prechat(f *fileCtx, key, n *yaml.Node) *engine.Prechat {
	pc := &engine.Prechat{}
	c.cur = nil
	for _, p := range f.pairs(n, "prechat", prechatKeys) {
		if p.key.Value == "intro" {
			pc.Intro = c.text(f, p.value, "the pre-chat intro")
			continue
		}
		fl := engine.PrechatField{Name: p.key.Value}
		switch v := p.value; {
		case v.Kind == yaml.ScalarNode && v.Tag != "!!null":
			switch v.Value {
			case "true", "optional":
			case "required":
				fl.Required = true
			case "false":
				continue // left out
			default:
				d := f.errorf(v, "prechat.%s must be optional, required or {label, required}, not %q", fl.Name, v.Value)
				d.Detail = fmt.Sprintf("such as %s: required, or %s: {label: ..., required: true}", fl.Name, fl.Name)
				continue
			}
		case v.Kind == yaml.MappingNode:
			for _, fp := range f.pairs(v, "prechat."+fl.Name, prechatFieldKeys) {
				switch fp.key.Value {
				case "label":
					fl.Label = c.text(f, fp.value, "the label of prechat."+fl.Name)
				case "required":
					b, ok := f.str(fp.value, "required")
					if ok && b != "true" && b != "false" {
						f.errorf(fp.value, "required must be true or false, not %q", b)
					}
					fl.Required = b == "true"
				}
			}
		default:
			d := f.errorf(v, "prechat.%s must be optional, required or {label, required}, not %s", fl.Name, kindName(v))
			d.Detail = fmt.Sprintf("such as %s: required", fl.Name)
			continue
		}
		if fl.Name == "consent" && fl.Label == nil {
			d := f.errorf(p.key, "the consent box needs a label: the words the visitor agrees to")
			d.Detail = "such as consent: {label: I agree to the privacy policy, required: true}"
		}
		pc.Fields = append(pc.Fields, fl)
	}
	if n.Kind == yaml.MappingNode && len(pc.Fields) == 0 {
		d := f.errorf(key, "the pre-chat form has no field")
		d.Detail = "give it one or more of name, email, phone, consent, such as email: required"
	}
	return pc
}

func (c *compiler) duration(f *fileCtx, n *yaml.Node, what string, maxD time.Duration) time.Duration {
	s, ok := f.str(n, what)
	if !ok {
		return 0
	}
	d, err := engine.ParseDuration(s)
	if err != nil {
		f.errorf(n, "%s: %v", what, err)
		return 0
	}
	if d < 0 {
		f.errorf(n, "%s must not be negative", what)
	}
	if maxD > 0 && d > maxD {
		f.errorf(n, "%s is %s; at most %s is allowed", what, d, maxD)
	}
	return d
}

// hostAllowed reports whether host matches the playbook's allow_hosts.
func (c *compiler) hostAllowed(host string) bool {
	for _, h := range c.hosts {
		if h == host {
			return true
		}
		if suf, ok := strings.CutPrefix(h, "*."); ok && strings.HasSuffix(host, "."+suf) {
			return true
		}
	}
	return false
}

func staticHost(raw string) (string, bool) {
	if i := strings.Index(raw, "{{"); i >= 0 {
		raw = raw[:i]
		// the host must be complete before the first hole
		rest := strings.TrimPrefix(strings.TrimPrefix(raw, "https://"), "http://")
		if !strings.Contains(rest, "/") {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", false
	}
	return u.Hostname(), true
}
