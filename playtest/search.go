package playtest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/expr-lang/expr/ast"

	"github.com/playbook-dev/playbook/engine"
)

// maxSearch bounds the drafts search runs for one edge, and maxGenerate
// those for all the edges of one Generate (a large playbook with many
// edges no run can take stays quick: the rest keep their TODOs).
const (
	maxSearch   = 1500
	maxGenerate = 20000
)

// takes reports whether draft pr, run as written, takes its edge, and
// notes where the run ended (pr.Status, pr.Outcome).
func takes(p *engine.Program, pr *Proposal) bool {
	f, diags := Parse("proposal.test.yaml", []byte("tests:\n"+FormatProposals([]*Proposal{pr})))
	if diags.HasErrors() || len(f.Tests) != 1 {
		return false
	}
	res := Run(p, f.Tests[0])
	pr.Status, pr.Outcome = res.Status, res.Outcome
	return res.Edges[pr.Edge]
}

var (
	openHoursRE = regexp.MustCompile(`open_hours\(\s*["']([\w-]+)["']\s*\)`)
	onlineRE    = regexp.MustCompile(`agents_online\(\s*["']([\w-]+)["']\s*\)`)
)

// search tries what a test controls until draft pr takes its edge: the
// opening hours and agents online of the teams the conditions on the way
// name, and, one question at a time, other answers (the choices that lead
// the same way; for typed answers the literals the playbook compares or
// computes with, and their neighbours). This reaches conditions solve
// cannot: on a var a set computes from answers (`score >= 2`), on
// open_hours() and agents_online(). On success pr is rewritten and
// Checked; otherwise each note says why it is left to the test writer.
func search(p *engine.Program, pr *Proposal, budget *int) {
	limit := min(maxSearch, *budget)
	tries := 0
	defer func() { *budget -= tries }()
	var conds []condWant
	for _, t := range pr.chain {
		conds = append(conds, t.conds...)
	}
	pool := literalPool(p, pr.chain)
	// An alternative changes one thing: the script line of a transition,
	// the body of its call's mock, or a setting of the test.
	type alt struct {
		i       int    // the transition, for step and body
		step    string // a script line in place of the transition's
		body    string // the body of its call's mock
		open    string // a team whose open_hours to set to isOpen
		isOpen  bool
		online  string // a team whose agents_online to set to n
		n       int
		visitor [2]string // a visitor field and its value
	}
	var alts []alt
	for i, t := range pr.chain {
		if t.ans != nil {
			for k, c := range candidates(p, p.Cards[t.ans.card], *t.ans, i == len(pr.chain)-1, pool) {
				if k > 0 || len(t.steps) != 1 || t.steps[0] != c.step {
					alts = append(alts, alt{i: i, step: c.step})
				}
			}
		}
		// a call's answer: each var it saves set to a literal of the playbook
		if t.edge != nil && t.mock != "" {
			if call := p.Cards[t.edge.Card].Call; call != nil {
				for _, sv := range call.Save {
					for _, lit := range literals(pool) {
						alts = append(alts, alt{i: i, body: sampleBodyWith(p, call, sv.Var, lit)})
					}
				}
			}
		}
	}
	for _, team := range teamsIn(openHoursRE, conds) {
		alts = append(alts, alt{open: team, isOpen: true}, alt{open: team, isOpen: false})
	}
	for _, team := range teamsIn(onlineRE, conds) {
		for n := range 3 {
			if n > 0 || pr.Online[team] == 0 { // a handoff on the way needs one
				alts = append(alts, alt{online: team, n: n})
			}
		}
	}
	for _, v := range visitorSettings(conds, pool)[1:] {
		alts = append(alts, alt{visitor: v[0]})
	}
	saved := slices.Clone(pr.chain)
	baseOnline := maps.Clone(pr.Online)
	// write is restep, with a wait for each offline edge whose team has an
	// agent online (nobody accepts: the wait runs out).
	write := func() {
		for i, t := range pr.chain {
			if t.edge != nil && t.edge.Kind == engine.EdgeOffline {
				pr.chain[i].steps = nil
				if h := p.Cards[t.edge.Card].Handoff; h != nil && pr.Online[h.Team] > 0 {
					pr.chain[i].steps = []string{"wait: " + shortDuration(h.Wait)}
				}
			}
		}
		restep(pr)
	}
	write()
	tries++
	ok, best := progress(p, pr)
	if ok {
		pr.Checked, pr.Searched = true, true
		return
	}
	// Hill climbing: keep a change (or a pair of changes, when no single
	// one helps) that takes the run further along the chain.
	try := func(ks ...int) bool {
		undoT := make([]trans, len(ks))
		undoOpen, undoOnline, undoVisitor := maps.Clone(pr.Open), maps.Clone(pr.Online), slices.Clone(pr.Visitor)
		for x, k := range ks {
			a := alts[k]
			switch {
			case a.open != "":
				if pr.Open == nil {
					pr.Open = map[string]bool{}
				}
				pr.Open[a.open] = a.isOpen
			case a.online != "":
				if pr.Online == nil {
					pr.Online = map[string]int{}
				}
				pr.Online[a.online] = a.n
			case a.visitor[0] != "":
				pr.Visitor = slices.DeleteFunc(pr.Visitor, func(f [2]string) bool { return f[0] == a.visitor[0] })
				pr.Visitor = append(pr.Visitor, a.visitor)
			default:
				t := &pr.chain[a.i]
				undoT[x] = *t
				if a.body != "" {
					t.body = a.body
				} else {
					t.steps = []string{a.step}
				}
			}
		}
		write()
		tries++
		ok, n := progress(p, pr)
		if ok || n > best {
			best = n
			return true
		}
		for x := len(ks) - 1; x >= 0; x-- {
			if a := alts[ks[x]]; a.open == "" && a.online == "" && a.visitor[0] == "" {
				pr.chain[a.i] = undoT[x]
			}
		}
		pr.Open, pr.Online, pr.Visitor = undoOpen, undoOnline, undoVisitor
		return false
	}
	same := func(a, b alt) bool {
		return a.open == "" && a.online == "" && a.visitor[0] == "" && b.open == "" && b.online == "" && b.visitor[0] == "" && a.i == b.i ||
			a.open != "" && a.open == b.open || a.online != "" && a.online == b.online || a.visitor[0] != "" && a.visitor[0] == b.visitor[0]
	}
climb:
	for tries < limit {
		for k := range alts {
			if tries >= limit {
				break climb
			}
			if try(k) {
				if ok, _ := progress(p, pr); ok {
					pr.Checked, pr.Searched = true, true
					return
				}
				continue climb
			}
		}
		// pairs near where the run stops first: the settings, then the
		// changes on the transitions just before it
		order := make([]int, len(alts))
		for k := range order {
			order[k] = k
		}
		key := func(a alt) int {
			switch {
			case a.open != "" || a.online != "" || a.visitor[0] != "":
				return 0
			case a.i <= best:
				return best - a.i + 1
			}
			return len(pr.chain) + 1
		}
		slices.SortStableFunc(order, func(x, y int) int { return key(alts[x]) - key(alts[y]) })
		for x := range order {
			for y := x + 1; y < len(order); y++ {
				a, b := order[x], order[y]
				if tries >= limit {
					break climb
				}
				if !same(alts[a], alts[b]) && try(a, b) {
					if ok, _ := progress(p, pr); ok {
						pr.Checked, pr.Searched = true, true
						return
					}
					continue climb
				}
			}
		}
		break
	}
	copy(pr.chain, saved)
	pr.Open, pr.Online, pr.Visitor = nil, baseOnline, nil
	write()
	pr.Notes = pr.Notes[:0]
	for _, c := range pr.left {
		pr.Notes = append(pr.Notes, c.note()+" ("+whyNot(p, pr.chain, c, tries)+")")
	}
}

// progress runs draft pr: whether it takes its edge, and how many of its
// chain's transitions happened in order from the start.
func progress(p *engine.Program, pr *Proposal) (bool, int) {
	f, diags := Parse("proposal.test.yaml", []byte("tests:\n"+FormatProposals([]*Proposal{pr})))
	if diags.HasErrors() || len(f.Tests) != 1 {
		return false, -1
	}
	res := Run(p, f.Tests[0])
	pr.Status, pr.Outcome = res.Status, res.Outcome
	if res.Edges[pr.Edge] {
		return true, len(pr.chain)
	}
	n := 0
	for _, t := range pr.chain {
		switch {
		case t.edge != nil && res.Edges[*t.edge]:
		case (t.edge == nil || t.ans != nil) && t.to.card >= 0 && slices.Contains(res.Entered, t.to.card):
			// another answer that leads the same way counts too
		default:
			return false, n
		}
		n++
	}
	return false, n
}

// restep writes pr's script and mocks from its chain.
func restep(pr *Proposal) {
	pr.Steps, pr.Mocks, pr.Bodies = pr.Steps[:0], pr.Mocks[:0], pr.Bodies[:0]
	for _, t := range pr.chain {
		pr.Steps = append(pr.Steps, t.steps...)
		if t.mock != "" {
			pr.Mocks = append(pr.Mocks, t.mock)
			pr.Bodies = append(pr.Bodies, t.body)
		}
	}
}

// literals are the texts and numbers written in the pool's expressions.
func literals(pool []condWant) []any {
	var out []any
	for _, c := range pool {
		if c.e == nil {
			continue
		}
		root := c.e.Prog.Node()
		ast.Walk(&root, visit(func(n *ast.Node) {
			var v any
			switch x := (*n).(type) {
			case *ast.StringNode:
				v = x.Value
			case *ast.IntegerNode:
				v = x.Value
			case *ast.FloatNode:
				v = x.Value
			default:
				return
			}
			if !slices.Contains(out, v) {
				out = append(out, v)
			}
		}))
	}
	return out
}

func teamsIn(re *regexp.Regexp, conds []condWant) []string {
	var out []string
	for _, c := range conds {
		if c.e == nil {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(c.e.Src, -1) {
			if !slices.Contains(out, m[1]) {
				out = append(out, m[1])
			}
		}
	}
	slices.Sort(out)
	return out
}

// literalPool is a condition for each expression on the chain's cards and
// each branch, set, skip_if and validate of the playbook, for the literals
// candidates take numbers and texts from.
func literalPool(p *engine.Program, chain []trans) []condWant {
	var out []condWant
	for _, t := range chain {
		out = append(out, t.conds...)
	}
	for _, c := range p.Cards {
		for _, b := range c.Branch {
			if b.If != nil {
				out = append(out, condWant{e: b.If})
			}
		}
		for _, a := range c.Set {
			if a.Expr != nil {
				out = append(out, condWant{e: a.Expr})
			}
		}
		if c.Ask != nil {
			if c.Ask.SkipIf != nil {
				out = append(out, condWant{e: c.Ask.SkipIf})
			}
			for _, v := range c.Ask.Validate {
				out = append(out, condWant{e: v.If})
			}
		}
	}
	return out
}

// whyNot says why condition c is left to the test writer.
func whyNot(p *engine.Program, chain []trans, c condWant, tries int) string {
	if c.e == nil {
		return "no way to arrange it was found"
	}
	src := c.e.Src
	switch {
	case strings.Contains(src, "visitor."):
		return "it reads the visitor, and no visitor tried made it so: set `visitor:` in the test"
	case strings.Contains(src, "now()") || strings.Contains(src, "today()"):
		return "it reads the clock: set `now:` in the test"
	}
	if len(teamsIn(openHoursRE, []condWant{c}))+len(teamsIn(onlineRE, []condWant{c})) > 0 && !readsVar(p, c.e) {
		return "the test's open_hours or agents_online can make it so, but another condition on the way is left"
	}
	if v := soleVar(p, c.e); v != "" {
		if !setOnTheWay(p, chain, c, v) {
			return fmt.Sprintf("no card on the way to %s sets %s, so no test can, as the playbook stands", c.card, v)
		}
		for _, card := range p.Cards {
			if card.Call != nil {
				for _, sv := range card.Call.Save {
					if sv.Var == v {
						return fmt.Sprintf("%s comes from a call: put the value in the mock's body", v)
					}
				}
			}
		}
		if slices.ContainsFunc(p.Cards, func(card *engine.Card) bool {
			return slices.ContainsFunc(card.Set, func(a engine.Assign) bool { return a.Var == v })
		}) {
			return fmt.Sprintf("%s is computed by a set; no answers tried in %d runs make it so", v, tries)
		}
		if slices.ContainsFunc(p.Cards, func(card *engine.Card) bool { return card.Ask != nil && card.Ask.Save == v }) {
			return fmt.Sprintf("no answer tried gives %s such a value, in %d runs", v, tries)
		}
		return fmt.Sprintf("no question on the way saves %s", v)
	}
	return fmt.Sprintf("none of %d runs with other answers, opening hours and agents online made it so", tries)
}

// readsVar reports whether e reads a declared var.
func readsVar(p *engine.Program, e *engine.Expr) bool {
	found := false
	root := e.Prog.Node()
	ast.Walk(&root, visit(func(n *ast.Node) {
		if id, ok := (*n).(*ast.IdentifierNode); ok {
			if _, declared := p.Var(id.Value); declared {
				found = true
			}
		}
	}))
	return found
}

// setOnTheWay reports whether a card on chain may set var v before
// condition c: its question, a set, or a call; c's own card only when c
// is not its skip_if.
func setOnTheWay(p *engine.Program, chain []trans, c condWant, v string) bool {
	seen := map[int]bool{}
	for _, t := range chain {
		if t.to.card >= 0 {
			seen[t.to.card] = true
		}
		if t.ans != nil {
			seen[t.ans.card] = true
		}
	}
	seen[0] = true
	for i := range seen {
		card := p.Cards[i]
		if card.Name == c.card && card.Ask != nil && card.Ask.SkipIf == c.e {
			continue
		}
		if card.Ask != nil && card.Ask.Save == v || slices.ContainsFunc(card.Set, func(a engine.Assign) bool { return a.Var == v }) {
			return true
		}
		if card.Call != nil && slices.ContainsFunc(card.Call.Save, func(s engine.CallSave) bool { return s.Var == v }) {
			return true
		}
	}
	return false
}

var visitorFieldRE = regexp.MustCompile(`visitor\.(\w+)`)

// visitorSettings lists visitors worth trying for conditions on visitor
// fields: none set first, then each field the conditions read set to a
// sample or to a literal the playbook compares with.
func visitorSettings(conds, pool []condWant) [][][2]string {
	out := [][][2]string{nil}
	var strs []string
	for _, c := range pool {
		if c.e == nil {
			continue
		}
		root := c.e.Prog.Node()
		ast.Walk(&root, visit(func(n *ast.Node) {
			if s, ok := (*n).(*ast.StringNode); ok && s.Value != "" && !slices.Contains(strs, s.Value) {
				strs = append(strs, s.Value)
			}
		}))
	}
	var fields []string
	for _, c := range conds {
		if c.e == nil {
			continue
		}
		for _, m := range visitorFieldRE.FindAllStringSubmatch(c.e.Src, -1) {
			if !slices.Contains(fields, m[1]) {
				fields = append(fields, m[1])
			}
		}
	}
	for _, f := range fields {
		var vals []string
		switch f {
		case "email":
			vals = []string{"ana@example.com"}
		case "name":
			vals = []string{"Ana"}
		case "phone":
			vals = []string{"+49 30 1234567"}
		case "returning", "consent":
			vals = []string{"true"}
		case "visits":
			vals = []string{"1", "2", "5", "10"}
		case "page", "referrer", "country", "language", "id":
			vals = strs
		}
		for _, v := range vals {
			out = append(out, [][2]string{{f, v}})
		}
	}
	return out
}

// shortDuration writes d the way a test file does: 2m, 90s, 1h.
func shortDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", (d+time.Second-1)/time.Second)
}
