package dsl

import (
	"fmt"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"go.yaml.in/yaml/v4"

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
			case "??":
				if id, ok := b.Left.(*ast.IdentifierNode); ok {
					guarded[id] = true
				}
			case "==", "!=":
				_, ln := b.Left.(*ast.NilNode)
				_, rn := b.Right.(*ast.NilNode)
				if id, ok := b.Left.(*ast.IdentifierNode); ok && rn {
					guarded[id] = true
				}
				if id, ok := b.Right.(*ast.IdentifierNode); ok && ln {
					guarded[id] = true
				}
			}
		case *ast.CallNode:
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
			after:   c.phase == 1,
			rng:     f.rngAt(n, off+from, len([]rune(id.Value))),
		})
	}))
}

type visitFunc func(*ast.Node)

func (v visitFunc) Visit(n *ast.Node) { v(n) }

// edge is a way from one card to another. waits is set when the visitor
// must answer before it is taken.
type edge struct {
	to    int
	waits bool
}

func (c *compiler) edges(i int) []edge {
	card := c.cards[i].card
	var out []edge
	add := func(to int, waits bool) {
		if to >= 0 {
			out = append(out, edge{to, waits})
		}
	}
	if card.Handoff != nil {
		// When someone is online the bot stops here; when nobody is, the
		// offline card runs at once.
		add(card.Handoff.Offline, false)
		return out
	}
	waits := card.Ask != nil && card.Ask.SkipIf == nil
	if card.Ask != nil {
		add(card.Ask.Retry.Then, waits)
		for _, ch := range card.Ask.Choices {
			add(ch.Goto, waits)
		}
	}
	if card.Call != nil {
		add(card.Call.OnError, false)
	}
	if card.HasEnd {
		return out
	}
	elseArm := false
	for _, b := range card.Branch {
		add(b.Goto, waits)
		elseArm = elseArm || b.If == nil
	}
	allChoicesGo := card.Ask != nil && len(card.Ask.Choices) > 0 && card.Ask.SkipIf == nil
	if card.Ask != nil {
		for _, ch := range card.Ask.Choices {
			allChoicesGo = allChoicesGo && ch.Goto >= 0
		}
	}
	if !elseArm && !allChoicesGo {
		add(card.Next, waits)
	}
	return out
}

// analyze runs the whole-program checks: cards never reached, loops that
// never wait for the visitor, vars never used, vars read before any path
// sets them.
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
	}
	for i, fc := range c.cards {
		if !reached[i] && fc.ns.prefix == "" {
			fc.ast.file.f.warnf(fc.ast.key, "card %q is never reached: no path from the first card leads to it", fc.ast.name)
		}
	}

	c.loops(adj)

	for _, v := range c.vars {
		if !c.used[v.Name] {
			d := c.diags.Warnf(v.Pos, "var %q is never used", v.Name)
			d.Detail = "no card saves, sets or reads it; remove it"
		}
	}

	// May-be-set analysis: in[i] holds the vars some path may have set
	// before card i runs.
	idx := map[string]int{}
	for i, v := range c.vars {
		idx[v.Name] = i
	}
	in := make([][]bool, n)
	for i := range in {
		in[i] = make([]bool, len(c.vars))
	}
	for i, v := range c.vars {
		if v.Default != nil {
			for j := range in {
				in[j][i] = true
			}
		}
	}
	work := []int{0}
	queued := make([]bool, n)
	visited := make([]bool, n)
	queued[0], visited[0] = true, true
	out := make([]bool, len(c.vars))
	for len(work) > 0 {
		i := work[0]
		work = work[1:]
		queued[i] = false
		copy(out, in[i])
		for _, w := range c.cards[i].writes {
			out[idx[w]] = true
		}
		for _, e := range adj[i] {
			changed := false
			for k, set := range out {
				if set && !in[e.to][k] {
					in[e.to][k] = true
					changed = true
				}
			}
			if (changed || !visited[e.to]) && !queued[e.to] {
				queued[e.to], visited[e.to] = true, true
				work = append(work, e.to)
			}
		}
	}
	for i, fc := range c.cards {
		if !reached[i] {
			continue
		}
		for _, r := range fc.reads {
			if r.guarded || in[i][idx[r.name]] {
				continue
			}
			if r.after && slices.Contains(fc.writes, r.name) {
				continue
			}
			d := c.diags.Warnf(r.rng, "var %q may be read before it is set", r.name)
			d.Detail = fmt.Sprintf("no path from the first card sets it before card %q; give it a `default:` or write `%s ?? ...`", fc.ast.name, r.name)
		}
	}
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
