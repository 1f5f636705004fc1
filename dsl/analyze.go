package dsl

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"
	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// recordReads notes which vars expression e reads (for the warnings) and
// which teams it asks about (for Program.Teams).
func (c *compiler) recordReads(f *fileCtx, n *yaml.Node, off int, e *engine.Expr) {
	root := e.Prog.Node()
	guarded := map[*ast.IdentifierNode]bool{}
	ast.Walk(&root, visitFunc(func(node *ast.Node) {
		switch b := (*node).(type) {
		case *ast.BinaryNode:
			switch b.Operator {
			case "and", "&&":
				guardIn(b.Right, nonNil(b.Left, true), guarded)
			case "or", "||":
				guardIn(b.Right, nonNil(b.Left, false), guarded)
			case "??":
				if id, ok := b.Left.(*ast.IdentifierNode); ok {
					guarded[id] = true
				}
			case "==", "!=", "in", "not in":
				// nil == x is false, nil in [...] is false: no error
				if id, ok := b.Left.(*ast.IdentifierNode); ok {
					guarded[id] = true
				}
				if id, ok := b.Right.(*ast.IdentifierNode); ok && b.Operator != "in" && b.Operator != "not in" {
					guarded[id] = true
				}
			}
		case *ast.ConditionalNode:
			// x != nil ? <x is set here> : ..., x == nil ? ... : <set here>
			guardIn(b.Exp1, nonNil(b.Cond, true), guarded)
			guardIn(b.Exp2, nonNil(b.Cond, false), guarded)
		case *ast.CallNode:
			c.checkLiteralArgs(f, n, off, e, b)
			m, ok := b.Callee.(*ast.MemberNode)
			if !ok || len(b.Arguments) == 0 {
				return
			}
			if id, ok := m.Node.(*ast.IdentifierNode); !ok || id.Value != "__world__" {
				return
			}
			if s, ok := b.Arguments[0].(*ast.StringNode); ok && !slices.Contains(c.teams, s.Value) {
				c.teams = append(c.teams, s.Value)
			}
		}
	}))
	if id, ok := root.(*ast.IdentifierNode); ok && c.inHole {
		guarded[id] = true // {{ var }} shows nothing when unset
	}
	c.checkNothing(f, n, off, e, root)
	ast.Walk(&root, visitFunc(func(node *ast.Node) {
		id, ok := (*node).(*ast.IdentifierNode)
		if !ok {
			return
		}
		if _, declared := c.varDecl[id.Value]; !declared {
			return
		}
		c.read[id.Value] = true
		c.used[id.Value] = true
		if c.cur == nil {
			return
		}
		from := id.Location().From
		if from < 0 || from > len([]rune(e.Src)) {
			from = 0
		}
		c.cur.reads = append(c.cur.reads, varRead{
			name:    id.Value,
			guarded: guarded[id],
			part:    c.part,
			nset:    c.nset,
			rng:     f.rngAt(n, off+from, len([]rune(id.Value))),
		})
	}))
}

// checkLiteralArgs checks what a built-in's literal arguments say before
// a visitor meets them: format's style, date's text.
func (c *compiler) checkLiteralArgs(f *fileCtx, n *yaml.Node, off int, e *engine.Expr, call *ast.CallNode) {
	name := ""
	switch cl := call.Callee.(type) {
	case *ast.IdentifierNode:
		name = cl.Value
		if !slices.Contains(functionNames(), name) && !strings.HasPrefix(name, "__") {
			// expr lets an unknown call through inside a built-in's arguments
			from := max(cl.Location().From, 0)
			d := c.diags.Errorf(f.rngAt(n, off+from, len([]rune(name))), "unknown function %q", name)
			suggest(d, name, functionNames())
			return
		}
	case *ast.MemberNode:
		if p, ok := cl.Property.(*ast.StringNode); ok && p.Value == "Format" {
			name = "format"
		}
	}
	if (name == "format" || name == "date") && len(call.Arguments) > 0 {
		// `budget ?? 0` has no single type, so expr lets it through
		if a := call.Arguments[0]; (a.Type() == nil || a.Type().Kind() == reflect.Interface) && mixedType(a) && !callsUnknown(a) {
			from := max(a.Location().From, 0)
			d := c.diags.Errorf(f.rngAt(n, off+from, 0), "%s() needs a date here (date() also takes a text), but this value's type is only known while chatting", name)
			d.Detail = "give the value one type: `start ?? today()`, or convert it with string(...)"
			return
		}
	}
	at := func(a *ast.StringNode) source.Range {
		from := a.Location().From
		if from < 0 || from > len([]rune(e.Src)) {
			from = 0
		}
		return f.rngAt(n, off+from, len([]rune(a.Value))+2)
	}
	switch {
	case name == "format" && len(call.Arguments) == 2:
		s, ok := call.Arguments[1].(*ast.StringNode)
		if ok && !slices.Contains(engine.FormatStyles, s.Value) {
			d := c.diags.Errorf(at(s), "format: unknown style %q", s.Value)
			d.Detail = "the styles are " + strings.Join(engine.FormatStyles, ", ")
			suggest(d, s.Value, engine.FormatStyles)
		}
	case name == "date" && len(call.Arguments) == 1:
		s, ok := call.Arguments[0].(*ast.StringNode)
		if !ok {
			return
		}
		if _, good := engine.ParseInput(engine.InputDate, s.Value, "en", time.Time{}); !good {
			d := c.diags.Errorf(at(s), "date(%q): that is not a date", s.Value)
			d.Detail = "write it as 2026-03-01; for days relative to today write today() + duration(\"1d\")"
		}
	}
}

// mixedType reports whether n is a kind of node whose type expr may leave
// open: a ??, a ?: or a var of type any.
func mixedType(n ast.Node) bool {
	switch x := n.(type) {
	case *ast.BinaryNode:
		return x.Operator == "??"
	case *ast.ConditionalNode, *ast.IdentifierNode:
		return true
	}
	return false
}

// callsUnknown reports whether n calls a function that does not exist
// (reported on its own).
func callsUnknown(n ast.Node) bool {
	found := false
	ast.Walk(&n, visitFunc(func(node *ast.Node) {
		if c, ok := (*node).(*ast.CallNode); ok {
			if id, ok := c.Callee.(*ast.IdentifierNode); ok && !slices.Contains(functionNames(), id.Value) && !strings.HasPrefix(id.Value, "__") {
				found = true
			}
		}
	}))
	return found
}

// nonNil returns the vars that condition cond proves set when it is
// truth: `x != nil`, `x == nil` when false, and `and` / `or` of those.
func nonNil(cond ast.Node, truth bool) []string {
	b, ok := cond.(*ast.BinaryNode)
	if !ok {
		if u, ok := cond.(*ast.UnaryNode); ok && (u.Operator == "not" || u.Operator == "!") {
			return nonNil(u.Node, !truth)
		}
		return nil
	}
	switch b.Operator {
	case "==", "!=":
		if truth != (b.Operator == "!=") {
			return nil
		}
		id, ok := b.Left.(*ast.IdentifierNode)
		if _, isNil := b.Right.(*ast.NilNode); ok && isNil {
			return []string{id.Value}
		}
		id, ok = b.Right.(*ast.IdentifierNode)
		if _, isNil := b.Left.(*ast.NilNode); ok && isNil {
			return []string{id.Value}
		}
	case "and", "&&":
		if truth {
			return append(nonNil(b.Left, true), nonNil(b.Right, true)...)
		}
	case "or", "||":
		if !truth {
			return append(nonNil(b.Left, false), nonNil(b.Right, false)...)
		}
	}
	return nil
}

// guardIn marks the reads of names inside n as guarded.
func guardIn(n ast.Node, names []string, guarded map[*ast.IdentifierNode]bool) {
	if len(names) == 0 {
		return
	}
	ast.Walk(&n, visitFunc(func(node *ast.Node) {
		if id, ok := (*node).(*ast.IdentifierNode); ok && slices.Contains(names, id.Value) {
			guarded[id] = true
		}
	}))
}

type visitFunc func(*ast.Node)

func (v visitFunc) Visit(n *ast.Node) { v(n) }

// edge is a way from one card to another. waits is set when the visitor
// must answer before it is taken. sets lists the vars the card surely set
// when it leaves by this edge; label says how it leaves, for messages
// ("" for the plain way on).
type edge struct {
	to    int
	waits bool
	sets  []string
	label string
}

// cardWrites returns what card i sets: its set assignments, the var its
// question saves into, and the vars its call saves.
func (c *compiler) cardWrites(i int) (set []string, save string, call []string) {
	fc := c.cards[i]
	card := fc.card
	for j, a := range card.Set {
		if j < len(fc.maybeUnset) && fc.maybeUnset[j] {
			set = append(set, "") // may set nothing: keeps the indices of ownWriteCovers
			continue
		}
		set = append(set, a.Var)
	}
	set = append(set, fc.guessed...)
	if card.Ask != nil {
		save = card.Ask.Save
	}
	if card.Call != nil {
		for _, sv := range card.Call.Save {
			call = append(call, sv.Var)
		}
	}
	return set, save, call
}

func (c *compiler) edges(i int) []edge {
	card := c.cards[i].card
	setW, save, callW := c.cardWrites(i)
	answered := setW
	if save != "" {
		answered = append(slices.Clip(setW), save)
	}
	var out []edge
	add := func(to int, waits bool, sets []string, label string) {
		if to >= 0 {
			out = append(out, edge{to, waits, sets, label})
		}
	}
	// flow adds the card's own way on: branch arms, goto or the card below.
	flow := func(waits bool, sets []string, label string) {
		if card.HasEnd {
			return
		}
		if x := card.Experiment; x != nil {
			for _, v := range x.Variants {
				add(v.Goto, waits, sets, join(label, "variant "+v.Name))
			}
			return
		}
		elseArm := false
		for _, b := range card.Branch {
			l := label
			if b.If != nil {
				l = join(label, "if "+b.If.Src)
			}
			add(b.Goto, waits, sets, l)
			elseArm = elseArm || b.If == nil
		}
		if !elseArm {
			add(card.Next, waits, sets, label)
		}
	}
	if card.Handoff != nil {
		// When someone is online the bot stops here; when nobody is, the
		// offline card runs at once.
		add(card.Handoff.Offline, false, setW, "nobody online")
		return out
	}
	if card.Call != nil {
		flow(false, append(slices.Clip(setW), callW...), "")
		if card.Call.OnError >= 0 {
			add(card.Call.OnError, false, setW, "the call fails")
		} else if len(callW) > 0 {
			flow(false, setW, "the call fails")
		}
		return out
	}
	if card.Ask == nil {
		flow(false, setW, "")
		return out
	}
	a := card.Ask
	waits := a.SkipIf == nil
	allChoicesGo := len(a.Choices) > 0 || len(a.Intents) > 0
	for _, in := range a.Intents {
		if in.Goto >= 0 && !card.HasEnd {
			add(in.Goto, waits, answered, "intent "+in.Name)
		}
		allChoicesGo = allChoicesGo && in.Goto >= 0
	}
	if len(a.Intents) > 0 && a.Fallback >= 0 {
		add(a.Fallback, waits, setW, "no intent matched")
	}
	if o := a.Other; o != nil {
		sets := setW
		if o.Save != "" {
			sets = append(slices.Clip(setW), o.Save)
		}
		if o.Goto >= 0 {
			if !card.HasEnd {
				add(o.Goto, waits, sets, "other")
			}
		} else {
			flow(waits, sets, "other")
		}
	}
	for _, ch := range a.Choices {
		label := ""
		if ch.Label != nil {
			if tm := ch.Label.ByLocale[c.locale]; tm != nil {
				label = fmt.Sprintf("%q", tm.Static)
			}
		}
		if ch.Goto >= 0 && !card.HasEnd {
			add(ch.Goto, waits, answered, label)
		}
		allChoicesGo = allChoicesGo && ch.Goto >= 0
	}
	if !allChoicesGo || card.HasEnd {
		flow(waits, answered, "")
	}
	if a.Retry.Max > 0 {
		if a.Retry.Then >= 0 {
			add(a.Retry.Then, waits, nil, "too many tries")
		} else {
			flow(waits, setW, "too many tries")
		}
	}
	if a.SkipIf != nil {
		flow(false, setW, "skip_if is true")
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// analyze runs the whole-program checks: cards never reached, loops that
// never wait for the visitor, vars never used, and vars read where some
// path has not set them.
func (c *compiler) analyze() {
	n := len(c.cards)
	if n == 0 {
		return
	}
	adj := make([][]edge, n)
	for i := range c.cards {
		adj[i] = c.edges(i)
	}

	reached := make([]bool, n)
	stack := []int{0}
	reached[0] = true
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, e := range adj[i] {
			if !reached[e.to] {
				reached[e.to] = true
				stack = append(stack, e.to)
			}
		}
		if h := c.cards[i].card.Handoff; h != nil {
			for _, t := range h.BackTo { // an agent hands the chat back there
				if !reached[t] {
					reached[t] = true
					stack = append(stack, t)
				}
			}
		}
	}
	// A goto that names no card could have meant any card: after such an
	// error, "never reached" would only repeat it.
	if len(c.broken) == 0 {
		for i, fc := range c.cards {
			if !reached[i] && fc.ns.prefix == "" {
				fc.ast.file.f.warnf(fc.ast.key, "card %q is never reached: no path from the first card leads to it", fc.ast.name)
			}
		}
	}

	c.loops(adj)

	for _, v := range c.vars {
		if !c.used[v.Name] {
			d := c.diags.Warnf(v.Pos, "var %q is never used", v.Name)
			d.Detail = "no card saves, sets or reads it; remove it"
		}
	}
	if len(c.broken) == 0 {
		in := c.definiteAssignment(adj, reached)
		c.resumeNeeds(adj)
		c.checkBackTo(adj, reached, in)
	}
}

// varSet is a set of var indices.
type varSet []uint64

func newVarSet(n int) varSet    { return make(varSet, (n+63)/64) }
func (s varSet) has(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }
func (s varSet) add(i int)      { s[i/64] |= 1 << (i % 64) }
func (s varSet) fill() {
	for i := range s {
		s[i] = ^uint64(0)
	}
}
func (s varSet) and(o varSet) bool { // s &= o; reports whether s changed
	changed := false
	for i := range s {
		if v := s[i] & o[i]; v != s[i] {
			s[i], changed = v, true
		}
	}
	return changed
}

// definiteAssignment reports every read of a var that some path from the
// first card reaches without setting it, where an unset var would stop
// the conversation (`budget * 12`, `upper(plan)`). A var is surely set
// before a card when every path to the card sets it (must, not may): an
// answered question sets its var, but a skipped one, the last refused
// answer, a failed call and an offline path do not.
//
// It returns, per card, the vars surely set before it (nil when no read
// can fail, and so nothing needs them).
func (c *compiler) definiteAssignment(adj [][]edge, reached []bool) []varSet {
	n, nv := len(c.cards), len(c.vars)
	idx := make(map[string]int, nv)
	for i, v := range c.vars {
		idx[v.Name] = i
	}
	anyRead := false
	for _, fc := range c.cards {
		for _, r := range fc.reads {
			anyRead = anyRead || !r.guarded
		}
	}
	if !anyRead {
		return nil
	}
	defaults := newVarSet(nv)
	for i, v := range c.vars {
		if v.Default != nil {
			defaults.add(i)
		}
	}
	in := make([]varSet, n)
	for i := range in {
		in[i] = newVarSet(nv)
		in[i].fill()
	}
	copy(in[0], defaults)
	work := []int{0}
	queued := make([]bool, n)
	visited := make([]bool, n)
	queued[0], visited[0] = true, true
	out := newVarSet(nv)
	for len(work) > 0 {
		i := work[0]
		work = work[1:]
		queued[i] = false
		for _, e := range adj[i] {
			copy(out, in[i])
			for _, w := range e.sets {
				if k, ok := idx[w]; ok {
					out.add(k)
				}
			}
			if changed := in[e.to].and(out); (changed || !visited[e.to]) && !queued[e.to] {
				queued[e.to], visited[e.to] = true, true
				work = append(work, e.to)
			}
		}
	}
	type key struct {
		rng  source.Range
		name string
	}
	reported := map[key]bool{}
	for i, fc := range c.cards {
		if !reached[i] {
			continue
		}
		for _, r := range fc.reads {
			k, ok := idx[r.name]
			if r.guarded || !ok || in[i].has(k) || c.ownWriteCovers(i, r) {
				continue
			}
			if reported[key{r.rng, r.name}] {
				continue // the same spot in a sub-flow included twice
			}
			reported[key{r.rng, r.name}] = true
			c.reportUnset(adj, idx, defaults, i, r)
		}
	}
	return in
}

// checkBackTo reports each card a handoff's back_to lists that needs a var
// (Card.Needs) a chat may not have when it waits at that handoff: one not
// set on every path to the handoff card, nor by the card's own set. Such a
// hand-back would be refused while chatting, so validate says it first.
func (c *compiler) checkBackTo(adj [][]edge, reached []bool, in []varSet) {
	if in == nil {
		return
	}
	idx := make(map[string]int, len(c.vars))
	for i, v := range c.vars {
		idx[v.Name] = i
	}
	for h, fc := range c.cards {
		ho := fc.card.Handoff
		if ho == nil || !reached[h] || len(fc.backTo) != len(ho.BackTo) {
			continue
		}
		setW, _, _ := c.cardWrites(h)
		for j, t := range ho.BackTo {
			var missing []string
			for _, v := range c.cards[t].card.Needs {
				if k, ok := idx[v]; ok && !in[h].has(k) && !slices.Contains(setW, v) {
					missing = append(missing, v)
				}
			}
			if len(missing) > 0 {
				c.reportBackTo(adj, idx, h, t, fc.backTo[j], missing)
			}
		}
	}
}

// reportBackTo reports that handoff card h lists card t in back_to at n,
// and t needs vars (sorted) that a chat waiting at h may lack. It names
// the card that reads the first of them, a path to h that does not set
// it, and the fixes.
func (c *compiler) reportBackTo(adj [][]edge, idx map[string]int, h, t int, n *yaml.Node, missing []string) {
	f := c.cards[h].ast.file.f
	v := missing[0]
	what := "var " + strconv.Quote(v)
	if len(missing) > 1 {
		q := quoteAll(missing)
		what = "vars " + strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
	}
	d := f.errorf(n, "an agent may hand the chat back to %q here, but it reads %s, which a chat may not have when it waits at this handoff", c.cards[t].ast.name, what)
	var b strings.Builder
	if path := c.unsetPath(adj, idx, idx[v], h); path != "" {
		fmt.Fprintf(&b, "this path to the handoff does not set it: %s. ", path)
	}
	reader, route := c.readerPath(adj, t, v)
	if reader != t {
		fmt.Fprintf(&b, "Card %q reads it on the way on (%s). ", c.cards[reader].ast.name, route)
	}
	var askers []string
	for _, fc := range c.cards {
		if a := fc.card.Ask; a != nil && a.Save == v && !slices.Contains(askers, fc.ast.name) {
			askers = append(askers, fc.ast.name)
		}
	}
	fmt.Fprintf(&b, "Give %q a `default:`, write `%s ?? %s` in card %q", v, v, zeroHint(c.varDecl[v].Type), c.cards[reader].ast.name)
	if len(askers) > 0 && len(askers) <= 3 {
		fmt.Fprintf(&b, ", or hand back to card %s (it asks for it) instead", strings.Join(quoteAll(askers), " or "))
	} else {
		b.WriteString(", or take the card out of back_to")
	}
	d.Detail = b.String()
}

// readerPath finds the nearest card, from card t along edges that do not
// set var v, that reads v where an unset var fails, and the way there as
// "a → b → c".
func (c *compiler) readerPath(adj [][]edge, t int, v string) (int, string) {
	reads := func(i int) bool {
		for _, r := range c.cards[i].reads {
			if r.name == v && !r.guarded && !c.ownWriteCovers(i, r) {
				return true
			}
		}
		return false
	}
	prev := map[int]int{t: -1}
	queue := []int{t}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		if reads(i) {
			var steps []string
			for j := i; j >= 0; j = prev[j] {
				steps = append(steps, c.cards[j].name)
			}
			slices.Reverse(steps)
			return i, strings.Join(steps, " → ")
		}
	edges:
		for _, e := range adj[i] {
			if _, seen := prev[e.to]; seen {
				continue
			}
			for _, w := range e.sets {
				if w == v {
					continue edges
				}
			}
			prev[e.to] = i
			queue = append(queue, e.to)
		}
	}
	return t, ""
}

// ownWriteCovers reports whether card i itself surely set the var of read
// r before r runs: a validate reads the answer being checked, a set or a
// branch reads what the card's question saved (when it is always
// answered) or what its earlier set assignments wrote.
func (c *compiler) ownWriteCovers(i int, r varRead) bool {
	fc := c.cards[i]
	setW, save, callW := c.cardWrites(i)
	a := fc.card.Ask
	alwaysAnswered := a != nil && a.SkipIf == nil && !(a.Retry.Max > 0 && a.Retry.Then < 0)
	switch r.part {
	case partValidate:
		return r.name == save
	case partSet, partBranch:
		if alwaysAnswered && r.name == save || slices.Contains(setW[:min(r.nset, len(setW))], r.name) {
			return true
		}
		return r.part == partBranch && (slices.Contains(setW, r.name) ||
			fc.card.Call != nil && fc.card.Call.OnError >= 0 && slices.Contains(callW, r.name))
	}
	return false
}

// resumeNeeds fills each card's Needs: the vars without a default that
// some path from the card reads, where an unset var would fail, before any
// card on it sets them. It is definite assignment run backwards from every
// card at once (a may-analysis: the union over the edges), for hand-backs
// that enter a card other than the first.
func (c *compiler) resumeNeeds(adj [][]edge) {
	n, nv := len(c.cards), len(c.vars)
	idx := make(map[string]int, nv)
	for i, v := range c.vars {
		if v.Default == nil {
			idx[v.Name] = i
		}
	}
	words := (nv + 63) / 64
	need := make([]varSet, n)
	slab := make([]uint64, n*words)
	any := false
	for i, fc := range c.cards {
		need[i] = varSet(slab[i*words : (i+1)*words : (i+1)*words])
		for _, r := range fc.reads {
			if k, ok := idx[r.name]; ok && !r.guarded && !c.ownWriteCovers(i, r) {
				need[i].add(k)
				any = true
			}
		}
	}
	if !any {
		return
	}
	// sets of each edge, as var sets, and the edges into each card
	type in struct {
		from int
		sets varSet
	}
	npred := make([]int, n)
	nedge := 0
	for i := range adj {
		for _, e := range adj[i] {
			npred[e.to]++
			nedge++
		}
	}
	preds := make([][]in, n)
	all := make([]in, 0, nedge)
	for j := range preds {
		preds[j] = all[len(all) : len(all) : len(all)+npred[j]]
		all = all[:len(all)+npred[j]]
	}
	sets := make([]uint64, nedge*words)
	for i := range adj {
		for _, e := range adj[i] {
			s := varSet(sets[:words:words])
			sets = sets[words:]
			for _, w := range e.sets {
				if k, ok := idx[w]; ok {
					s.add(k)
				}
			}
			preds[e.to] = append(preds[e.to], in{i, s})
		}
	}
	work := make([]int, 0, n)
	queued := make([]bool, n)
	for i := n - 1; i >= 0; i-- {
		work, queued[i] = append(work, i), true
	}
	for len(work) > 0 {
		j := work[len(work)-1]
		work = work[:len(work)-1]
		queued[j] = false
		for _, p := range preds[j] {
			// need[p.from] |= need[j] &^ p.sets
			changed := false
			for w := range need[j] {
				if v := need[p.from][w] | need[j][w]&^p.sets[w]; v != need[p.from][w] {
					need[p.from][w], changed = v, true
				}
			}
			if changed && !queued[p.from] {
				queued[p.from] = true
				work = append(work, p.from)
			}
		}
	}
	for i, fc := range c.cards {
		for k, v := range c.vars {
			if need[i].has(k) {
				fc.card.Needs = append(fc.card.Needs, v.Name)
			}
		}
		slices.Sort(fc.card.Needs)
	}
}

// reportUnset reports read r in card at, naming a path from the first card
// that does not set the var.
func (c *compiler) reportUnset(adj [][]edge, idx map[string]int, defaults varSet, at int, r varRead) {
	k := idx[r.name]
	path := c.unsetPath(adj, idx, k, at)
	if a := c.cards[at].card.Ask; path != "" && a != nil && r.part >= partSet && r.name == a.Save {
		// the card's own question did not set it
		if a.SkipIf != nil {
			path += " (skip_if is true)"
		} else {
			path += " (too many tries)"
		}
	}
	d := c.diags.Errorf(r.rng, "var %q may have no value here, and then the conversation would stop", r.name)
	var b strings.Builder
	if len(path) > 0 {
		fmt.Fprintf(&b, "this path does not set it: %s. ", path)
	}
	var setters []string
	for _, fc := range c.cards {
		for _, w := range fc.writes {
			if w == r.name && !slices.Contains(setters, fc.ast.name) {
				setters = append(setters, fc.ast.name)
			}
		}
	}
	if len(setters) > 0 && len(setters) <= 3 {
		fmt.Fprintf(&b, "It is set in card %s. ", strings.Join(quoteAll(setters), ", "))
	}
	for _, fc := range c.cards {
		for j, a := range fc.card.Set {
			if a.Var == r.name && a.Expr != nil && j < len(fc.maybeUnset) && fc.maybeUnset[j] {
				fmt.Fprintf(&b, "Card %q sets it to `%s`, which may have no value. ", fc.ast.name, a.Expr.Src)
			}
		}
	}
	fmt.Fprintf(&b, "Write `%s ?? %s` here, give the var a `default:`, or set it on that path", r.name, zeroHint(c.varDecl[r.name].Type))
	d.Detail = b.String()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// zeroHint is an example fallback value of type t, as written in an
// expression.
func zeroHint(t engine.Type) string {
	switch t {
	case engine.TypeNumber, engine.TypeInt:
		return "0"
	case engine.TypeBool:
		return "false"
	case engine.TypeList:
		return "[]"
	case engine.TypeDate:
		return "today()"
	}
	return "''"
}

// unsetPath finds a shortest path from the first card to card at whose
// edges never set var k, written as "a → b (label) → c".
func (c *compiler) unsetPath(adj [][]edge, idx map[string]int, k, at int) string {
	n := len(c.cards)
	prev := make([]int, n)
	via := make([]string, n)
	for i := range prev {
		prev[i] = -2
	}
	prev[0] = -1
	queue := []int{0}
	for len(queue) > 0 && prev[at] == -2 {
		i := queue[0]
		queue = queue[1:]
	edges:
		for _, e := range adj[i] {
			if prev[e.to] != -2 {
				continue
			}
			for _, w := range e.sets {
				if idx[w] == k {
					continue edges
				}
			}
			prev[e.to], via[e.to] = i, e.label
			queue = append(queue, e.to)
		}
	}
	if prev[at] == -2 {
		return ""
	}
	var steps []string
	label := ""
	for i := at; i >= 0; i = prev[i] {
		s := c.cards[i].name
		if label != "" {
			s += " (" + label + ")"
		}
		label = via[i]
		steps = append(steps, s)
	}
	slices.Reverse(steps)
	return strings.Join(steps, " → ")
}

// loops reports cycles of cards that run one after another without waiting
// for the visitor: they would spin until the runaway guard stops them.
func (c *compiler) loops(adj [][]edge) {
	n := len(adj)
	// Tarjan's strongly connected components over the edges that do not wait.
	index := make([]int, n)
	low := make([]int, n)
	onStack := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack []int
	next := 0
	var strong func(v int)
	strong = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, e := range adj[v] {
			if e.waits {
				continue
			}
			if index[e.to] < 0 {
				strong(e.to)
				low[v] = min(low[v], low[e.to])
			} else if onStack[e.to] {
				low[v] = min(low[v], index[e.to])
			}
		}
		if low[v] != index[v] {
			return
		}
		var comp []int
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp = append(comp, w)
			if w == v {
				break
			}
		}
		selfLoop := false
		for _, e := range adj[v] {
			selfLoop = selfLoop || (e.to == v && !e.waits)
		}
		if len(comp) > 1 || selfLoop {
			c.reportLoop(adj, comp)
		}
	}
	for v := range n {
		if index[v] < 0 {
			strong(v)
		}
	}
}

func (c *compiler) reportLoop(adj [][]edge, comp []int) {
	slices.Sort(comp)
	start := comp[0]
	inComp := map[int]bool{}
	for _, v := range comp {
		inComp[v] = true
	}
	// Walk a cycle from start within the component for the message.
	path := []int{start}
	seen := map[int]bool{start: true}
	cur := start
	for {
		nextV := -1
		for _, e := range adj[cur] {
			if !e.waits && inComp[e.to] && (e.to == start || !seen[e.to]) {
				nextV = e.to
				if e.to == start {
					break
				}
			}
		}
		if nextV < 0 {
			break
		}
		path = append(path, nextV)
		if nextV == start {
			break
		}
		seen[nextV] = true
		cur = nextV
	}
	names := make([]string, len(path))
	for i, v := range path {
		names[i] = c.cards[v].ast.name
	}
	fc := c.cards[start]
	d := fc.ast.file.f.errorf(fc.ast.key, "these cards can loop forever without waiting for the visitor: %s", strings.Join(names, " → "))
	d.Detail = "put a question (ask or choices, without skip_if) inside the loop, or give it a way out"
}
