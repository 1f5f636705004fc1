package playtest

import (
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/playbook-dev/playbook/engine"
)

// solve picks answers along chain (in order) that make its conditions come
// out as wanted, where a condition reads one var and that var is saved by
// a question earlier on the chain (or the question itself, for its
// validate): `size == "51-200"`, `budget >= 1000`, `plan in ["pro"]`. It
// rewrites those questions' steps and returns the conditions it could not
// solve, for the test writer.
func solve(p *engine.Program, chain []trans) []condWant {
	type group struct {
		at    int // index in chain of the answer
		v     string
		conds []condWant
	}
	var groups []*group
	var left []condWant
	for i, t := range chain {
		for _, c := range t.conds {
			v := soleVar(p, c.e)
			at := -1
			if v != "" {
				for j := i; j >= 0; j-- {
					if a := chain[j].ans; a != nil && p.Cards[a.card].Ask != nil && p.Cards[a.card].Ask.Save == v {
						at = j
						break
					}
				}
			}
			if at < 0 {
				left = append(left, c)
				continue
			}
			k := slices.IndexFunc(groups, func(g *group) bool { return g.at == at })
			if k < 0 {
				groups = append(groups, &group{at: at, v: v})
				k = len(groups) - 1
			}
			groups[k].conds = append(groups[k].conds, c)
		}
	}
	for _, g := range groups {
		t := &chain[g.at]
		card := p.Cards[t.ans.card]
		decl, _ := p.Var(g.v)
		found := false
		for _, cand := range candidates(p, card, *t.ans, g.at == len(chain)-1, g.conds) {
			val := cand.value
			if decl != nil {
				if v, err := engine.Coerce(val, decl.Type); err == nil {
					val = v
				}
			}
			if holds(g.v, val, g.conds) {
				t.steps, found = []string{cand.step}, true
				break
			}
		}
		if !found {
			left = append(left, g.conds...)
		}
	}
	return left
}

// soleVar returns the one declared var condition e reads, or "" when it
// reads none, several, or anything else (the visitor, a built-in that
// asks the world).
func soleVar(p *engine.Program, e *engine.Expr) string {
	if e == nil || e.Prog == nil {
		return ""
	}
	root := e.Prog.Node()
	v, ok := "", true
	ast.Walk(&root, visit(func(n *ast.Node) {
		id, isID := (*n).(*ast.IdentifierNode)
		if !isID {
			return
		}
		if _, declared := p.Var(id.Value); !declared || (v != "" && v != id.Value) {
			ok = false
			return
		}
		v = id.Value
	}))
	if !ok {
		return ""
	}
	return v
}

type visit func(*ast.Node)

func (f visit) Visit(n *ast.Node) { f(n) }

type candidate struct {
	step  string // the script line
	value any    // what the var holds after it
}

// candidates lists answers to card's question worth trying, the current
// one first: for choices (and intents), the others that lead the same way
// (none when the answer is the edge wanted, last); for typed input, the
// literals the conditions compare with and their neighbours.
func candidates(p *engine.Program, card *engine.Card, ans answer, last bool, conds []condWant) []candidate {
	a := card.Ask
	choice := ans.choice
	if ans.intent {
		if last {
			return nil
		}
		out := []candidate{{"visitor: " + yamlScalar(intentExample(p, a.Intents[choice])), a.Intents[choice].Name}}
		for i, in := range a.Intents {
			if i != choice && in.Goto == a.Intents[choice].Goto {
				out = append(out, candidate{"visitor: " + yamlScalar(intentExample(p, in)), in.Name})
			}
		}
		return out
	}
	if choice >= 0 {
		if last {
			return nil
		}
		var out []candidate
		order := append([]int{choice}, func() []int {
			var r []int
			for i := range a.Choices {
				if i != choice {
					r = append(r, i)
				}
			}
			return r
		}()...)
		for _, i := range order {
			ch := a.Choices[i]
			if ch.Goto == a.Choices[choice].Goto {
				out = append(out, candidate{"click: " + yamlScalar(choiceLabel(p, ch)), ch.Value})
			}
		}
		return out
	}
	var nums []float64
	var strs []string
	for _, c := range conds {
		root := c.e.Prog.Node()
		ast.Walk(&root, visit(func(n *ast.Node) {
			switch x := (*n).(type) {
			case *ast.IntegerNode:
				nums = append(nums, float64(x.Value))
			case *ast.FloatNode:
				nums = append(nums, x.Value)
			case *ast.StringNode:
				strs = append(strs, x.Value)
			case *ast.BinaryNode:
				if pat, ok := x.Right.(*ast.StringNode); ok && x.Operator == "matches" {
					if m, ok := matching(pat.Value); ok {
						strs = append(strs, m)
					}
				}
			}
		}))
	}
	sample := validSample(a.Input)
	out := []candidate{{"visitor: " + yamlScalar(sample), nil}}
	switch a.Input {
	case engine.InputNumber, engine.InputInt:
		f, _ := strconv.ParseFloat(sample, 64)
		out[0].value = f
		for _, n := range nums {
			for _, x := range []float64{n, n + 1, n - 1, n * 2, math.Floor(n / 2)} {
				if x < 0 || a.Input == engine.InputInt && x != math.Trunc(x) {
					continue
				}
				out = append(out, candidate{"visitor: " + yamlScalar(strconv.FormatFloat(x, 'f', -1, 64)), x})
			}
		}
	case engine.InputYesNo:
		out = []candidate{{"visitor: \"yes\"", true}, {"visitor: \"no\"", false}}
	case engine.InputText, "":
		out[0].value = sample
		for _, s := range strs {
			if s != "" {
				out = append(out, candidate{"visitor: " + yamlScalar(s), s})
			}
		}
	default:
		// email, phone, url, date, time: the sample, parsed as the engine does
		if v, ok := engine.ParseInput(a.Input, sample, p.Locale, DefaultNow); ok {
			out[0].value = v
		}
	}
	return out
}

// holds reports whether every condition comes out as wanted with var v
// set to val.
func holds(v string, val any, conds []condWant) bool {
	env := map[string]any{v: val}
	var m vm.VM
	for _, c := range conds {
		got, err := m.Run(c.e.Prog, env)
		b, isBool := got.(bool)
		if got == nil {
			b, isBool = false, true
		}
		if err != nil || !isBool || b != c.want {
			return false
		}
	}
	return true
}

// matching returns a short text that pattern matches, built from its
// syntax tree: the first of alternatives, the least repeats, the first
// character of a class.
func matching(pattern string) (string, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", false
	}
	re = re.Simplify()
	var b strings.Builder
	var walk func(r *syntax.Regexp) bool
	walk = func(r *syntax.Regexp) bool {
		switch r.Op {
		case syntax.OpLiteral:
			b.WriteString(string(r.Rune))
		case syntax.OpCharClass:
			if len(r.Rune) == 0 {
				return false
			}
			c := r.Rune[0]
			if c < ' ' && r.Rune[1] >= 'a' { // a class from 0: take a letter
				c = 'a'
			}
			b.WriteRune(c)
		case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
			b.WriteByte('x')
		case syntax.OpCapture, syntax.OpPlus:
			return walk(r.Sub[0])
		case syntax.OpRepeat:
			for range r.Min {
				if !walk(r.Sub[0]) {
					return false
				}
			}
		case syntax.OpConcat:
			for _, sub := range r.Sub {
				if !walk(sub) {
					return false
				}
			}
		case syntax.OpAlternate:
			return walk(r.Sub[0])
		case syntax.OpStar, syntax.OpQuest, syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
			syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		default:
			return false
		}
		return true
	}
	if !walk(re) {
		return "", false
	}
	if ok, _ := regexp.MatchString(pattern, b.String()); !ok {
		return "", false
	}
	return b.String(), true
}
