package playtest

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/playbook-dev/playbook/engine"
)

// Proposal is a test proposed to take one edge no test takes: a script
// found on the flow graph. It is a draft without expectations. Where a
// condition on its way (a branch arm, the arms before it, skip_if, a
// validate) reads one var that a question on the way saves, the answer is
// chosen to make it come out right; other conditions are noted.
type Proposal struct {
	Edge    engine.Edge
	Name    string
	Online  map[string]int
	Open    map[string]bool // open_hours the test sets, for conditions on them
	Visitor [][2]string     // visitor fields the test sets (name, value), for conditions on them
	Mocks   []string        // "METHOD URL" that must answer 200
	Bodies  []string        // the JSON body of each mock, with the fields its card saves
	Steps   []string        // script lines, "visitor: ..." or "click: ..."
	Notes   []string        // conditions the answers could not arrange
	Reached bool            // false when no path to the edge was found
	// Checked is set when the draft, run as it is, takes its edge.
	Checked bool
	// Searched is set when the draft's answers, opening hours or agents
	// online were found by running variants of it (see search).
	Searched bool
	// Status and Outcome are where a checked draft's run ended, for its
	// expect line.
	Status  engine.Status
	Outcome string

	chain []trans    // the way to the edge, for search
	left  []condWant // the conditions solve could not arrange
}

// node is a place on the flow graph: a card before its question is
// answered (phase 0) or after it (phase 1: its branch, goto or next).
type node struct{ card, phase int }

type trans struct {
	to    node // card -1: the conversation stops here
	edge  *engine.Edge
	steps []string
	team  string // needs an agent of this team online
	mock  string // needs this call to answer
	body  string // with this body
	// conds are the conditions that must come out as wanted for the
	// transition to be taken; solve derives answers for them, or they
	// stay as TODO notes.
	conds []condWant
	// ans is the question this transition answers, nil for none.
	ans *answer
}

// answer is an answer to card's question: choice is the index of the
// choice clicked (of the intent meant, when intent is set), or -1 for a
// typed answer.
type answer struct {
	card, choice int
	intent       bool
}

// condWant is a condition of card that must be want.
type condWant struct {
	e    *engine.Expr
	want bool
	card string
}

func (c condWant) note() string {
	if c.e == nil {
		return c.card
	}
	return fmt.Sprintf("make `%s` %t at %s", c.e.Src, c.want, c.card)
}

// Generate proposes one test for each edge in edges (the uncovered ones),
// by the shortest way through the flow graph from the first card.
// Each draft is run: Checked says whether it takes its edge as it is.
func Generate(p *engine.Program, edges []engine.Edge) []*Proposal {
	var out []*Proposal
	budget := maxGenerate
	for _, e := range edges {
		pr := propose(p, e)
		if pr.Reached {
			pr.Checked = takes(p, pr)
			if !pr.Checked && len(pr.Notes) > 0 {
				search(p, pr, &budget)
			}
		}
		out = append(out, pr)
	}
	return out
}

func propose(p *engine.Program, target engine.Edge) *Proposal {
	pr := &Proposal{Edge: target, Name: "takes " + DescribeEdge(p, target), Online: map[string]int{}}
	if len(p.Cards) == 0 {
		return pr
	}
	type prev struct {
		from node
		t    trans
	}
	// Cheapest way first (Dijkstra over small costs): a transition costs 1
	// and 3 more for each condition it needs that no answer on it settles,
	// so a way that answers a question beats one that needs its skip_if.
	start := node{0, 0}
	seen := map[node]prev{start: {}}
	dist := map[node]int{start: 0}
	done := map[node]bool{}
	buckets := [][]node{{start}}
	var found *prev
	foundCost := -1
	for d := 0; d < len(buckets); d++ {
		if foundCost >= 0 && d >= foundCost {
			break
		}
		for k := 0; k < len(buckets[d]); k++ {
			n := buckets[d][k]
			if done[n] || dist[n] != d {
				continue
			}
			done[n] = true
			for _, t := range transitions(p, n) {
				c := d + 1
				if t.ans == nil { // conditions on the answer given here are solved with it
					c += 3 * len(t.conds)
				}
				if t.edge != nil && *t.edge == target {
					if foundCost < 0 || c < foundCost {
						found, foundCost = &prev{n, t}, c
					}
					continue
				}
				if t.to.card < 0 {
					continue
				}
				if old, ok := dist[t.to]; ok && old <= c {
					continue
				}
				dist[t.to], seen[t.to] = c, prev{n, t}
				for len(buckets) <= c {
					buckets = append(buckets, nil)
				}
				buckets[c] = append(buckets[c], t.to)
			}
		}
	}
	if found == nil {
		return pr
	}
	pr.Reached = true
	var chain []trans
	chain = append(chain, found.t)
	for n := found.from; n != start; {
		pv := seen[n]
		chain = append(chain, pv.t)
		n = pv.from
	}
	slices.Reverse(chain)
	pr.left = solve(p, chain)
	for _, c := range pr.left {
		pr.Notes = append(pr.Notes, c.note())
	}
	pr.chain = chain
	for _, t := range chain {
		pr.Steps = append(pr.Steps, t.steps...)
		if t.team != "" {
			pr.Online[t.team] = 1
		}
		if t.mock != "" {
			pr.Mocks = append(pr.Mocks, t.mock)
			pr.Bodies = append(pr.Bodies, t.body)
		}
	}
	return pr
}

// variantShared reports whether an experiment other than x has a variant
// named name (a test's pin must then name the experiment).
func variantShared(p *engine.Program, x *engine.Experiment, name string) bool {
	for _, c := range p.Cards {
		if c.Experiment == nil || c.Experiment == x {
			continue
		}
		for _, v := range c.Experiment.Variants {
			if v.Name == name {
				return true
			}
		}
	}
	return false
}

// transitions lists the ways on from n, with what the visitor does.
func transitions(p *engine.Program, n node) []trans {
	c := p.Cards[n.card]
	edge := func(k engine.EdgeKind, i int) *engine.Edge { return &engine.Edge{Card: n.card, Kind: k, Index: i} }
	next := func(to int) node {
		if to < 0 {
			return node{-1, 0}
		}
		return node{to, 0}
	}
	after := node{n.card, 1}
	if n.phase == 1 {
		if c.HasEnd || c.Handoff != nil {
			return nil
		}
		var out []trans
		if x := c.Experiment; x != nil {
			for i, v := range x.Variants {
				pin := "variant: " + yamlScalar(v.Name)
				if variantShared(p, x, v.Name) {
					pin = "variant: {" + yamlScalar(x.Name) + ": " + yamlScalar(v.Name) + "}"
				}
				out = append(out, trans{to: next(v.Goto), edge: edge(engine.EdgeVariant, i), steps: []string{pin}})
			}
			return out
		}
		if len(c.Branch) == 0 {
			return []trans{{to: next(c.Next)}}
		}
		var earlier []condWant // the arms before must be false
		for i, b := range c.Branch {
			t := trans{to: next(b.Goto), edge: edge(engine.EdgeBranch, i)}
			t.conds = slices.Clone(earlier)
			if b.If != nil {
				t.conds = append(t.conds, condWant{b.If, true, c.Name})
				earlier = append(earlier, condWant{b.If, false, c.Name})
			}
			out = append(out, t)
		}
		if last := c.Branch[len(c.Branch)-1]; last.If != nil {
			out = append(out, trans{to: next(c.Next), edge: edge(engine.EdgeNoBranch, 0), conds: earlier})
		}
		return out
	}
	orAfter := func(to int) node {
		if to >= 0 {
			return node{to, 0}
		}
		return after
	}
	switch {
	case c.Handoff != nil:
		return []trans{
			{to: node{-1, 0}, edge: edge(engine.EdgeHandoff, 0), team: c.Handoff.Team},
			{to: next(c.Handoff.Offline), edge: edge(engine.EdgeOffline, 0)},
		}
	case c.Call != nil:
		url := "URL"
		if c.Call.URL != nil {
			url = templateGuess(c.Call.URL)
		}
		key := c.Call.Method + " " + url
		errTo := after
		if c.Call.OnError >= 0 {
			errTo = next(c.Call.OnError)
		}
		return []trans{
			{to: after, edge: edge(engine.EdgeCallOK, 0), mock: key, body: sampleBody(p, c.Call)},
			{to: errTo, edge: edge(engine.EdgeCallError, 0)},
		}
	case c.Ask == nil:
		if c.HasEnd {
			return nil
		}
		return []trans{{to: after}}
	}
	a := c.Ask
	var out []trans
	if a.SkipIf != nil {
		out = append(out, trans{to: after, edge: edge(engine.EdgeSkip, 0), conds: []condWant{{a.SkipIf, true, c.Name}}})
	}
	for i, ch := range a.Choices {
		out = append(out, trans{to: orAfter(ch.Goto), edge: edge(engine.EdgeChoice, i), steps: []string{"click: " + yamlScalar(choiceLabel(p, ch))}, ans: &answer{n.card, i, false}})
	}
	if a.Other != nil {
		out = append(out, trans{to: orAfter(a.Other.Goto), edge: edge(engine.EdgeOther, 0), steps: []string{"visitor: Something not in the list"}})
	}
	for i, in := range a.Intents {
		ex := intentExample(p, in)
		out = append(out, trans{to: orAfter(in.Goto), edge: edge(engine.EdgeIntent, i), steps: []string{"visitor: " + yamlScalar(ex)}, ans: &answer{n.card, i, true}})
	}
	if len(a.Intents) > 0 && a.Fallback >= 0 {
		out = append(out, trans{to: next(a.Fallback), edge: edge(engine.EdgeFallback, 0), steps: []string{"visitor: qwerty zxcv"}})
	}
	if a.Retry.Max > 0 {
		var steps []string
		for range a.Retry.Max {
			steps = append(steps, "visitor: "+yamlScalar(invalidSample(a)))
		}
		to := after
		if a.Retry.Then >= 0 {
			to = next(a.Retry.Then)
		}
		out = append(out, trans{to: to, edge: edge(engine.EdgeRetry, 0), steps: steps})
	}
	if len(a.Choices) == 0 && len(a.Intents) == 0 {
		t := trans{to: after, steps: []string{"visitor: " + yamlScalar(validSample(a.Input))}, ans: &answer{n.card, -1, false}}
		for _, v := range a.Validate {
			t.conds = append(t.conds, condWant{v.If, true, c.Name})
		}
		out = append(out, t)
	}
	return out
}

// intentExample is an example phrase of in, in the default locale when
// it has one.
func intentExample(p *engine.Program, in *engine.Intent) string {
	if exs := in.Examples[p.Locale]; len(exs) > 0 {
		return exs[0]
	}
	for _, l := range p.Locales {
		if exs := in.Examples[l]; len(exs) > 0 {
			return exs[0]
		}
	}
	return in.Name
}

func choiceLabel(p *engine.Program, ch *engine.Choice) string {
	label := ch.Value
	if ch.Label != nil {
		if tm := ch.Label.ByLocale[p.Locale]; tm != nil && tm.IsStatic {
			label = tm.Static
		}
	}
	return label
}

func validSample(t engine.InputType) string {
	switch t {
	case engine.InputEmail:
		return "ana@example.com"
	case engine.InputPhone:
		return "+49 30 1234567"
	case engine.InputNumber:
		return "100"
	case engine.InputInt:
		return "10"
	case engine.InputDate:
		return "2026-02-10"
	case engine.InputURL:
		return "https://www.example.com"
	case engine.InputYesNo:
		return "yes"
	}
	return "Ana Example"
}

func invalidSample(a *engine.Ask) string {
	switch {
	case len(a.Choices) > 0:
		return "none of these"
	case len(a.Intents) > 0:
		return "qwerty zxcv"
	case a.Input == engine.InputText || a.Input == "":
		return "x" // fails a validate, if the card has one
	}
	return "not valid"
}

// templateGuess renders a URL template with its holes as *, so it can key
// a pattern mock.
func templateGuess(t *engine.Template) string {
	if t.IsStatic {
		return t.Static
	}
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Expr != nil {
			b.WriteString("*")
		} else {
			b.WriteString(p.Lit)
		}
	}
	return b.String()
}

// yamlScalar quotes s when YAML would misread it plain.
func yamlScalar(s string) string {
	if s == "" || strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`") || strings.TrimSpace(s) != s {
		return strconv.Quote(s)
	}
	switch strings.ToLower(s) {
	case "yes", "no", "true", "false", "on", "off", "null", "~", "y", "n":
		return strconv.Quote(s)
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.Quote(s)
	}
	return s
}

// FormatProposals writes proposals as YAML items for a test file's
// `tests:` list, with the conditions to arrange as comments.
func FormatProposals(ps []*Proposal) string {
	var b strings.Builder
	for _, pr := range ps {
		if !pr.Reached {
			fmt.Fprintf(&b, "  # %s: no way to it from the first card was found\n", pr.Name)
			continue
		}
		fmt.Fprintf(&b, "  - name: %s\n", yamlScalar(pr.Name))
		switch {
		case pr.Checked && pr.Searched:
			fmt.Fprintf(&b, "    # checked: as written it takes the edge (answers and settings found by trying)\n")
		case pr.Checked:
			fmt.Fprintf(&b, "    # checked: as written it takes the edge\n")
		default:
			fmt.Fprintf(&b, "    # not yet: as written it does not take the edge; do the TODOs\n")
		}
		for _, n := range pr.Notes {
			if pr.Checked {
				fmt.Fprintf(&b, "    # holds as written: %s\n", n)
			} else {
				fmt.Fprintf(&b, "    # TODO: %s\n", n)
			}
		}
		if len(pr.Online) > 0 {
			var parts []string
			for t, n := range pr.Online {
				parts = append(parts, fmt.Sprintf("%s: %d", t, n))
			}
			slices.Sort(parts)
			fmt.Fprintf(&b, "    agents_online: {%s}\n", strings.Join(parts, ", "))
		}
		if len(pr.Visitor) > 0 {
			var parts []string
			for _, f := range pr.Visitor {
				parts = append(parts, f[0]+": "+yamlScalar(f[1]))
			}
			fmt.Fprintf(&b, "    visitor: {%s}\n", strings.Join(parts, ", "))
		}
		if len(pr.Open) > 0 {
			var parts []string
			for t, o := range pr.Open {
				parts = append(parts, fmt.Sprintf("%s: %t", t, o))
			}
			slices.Sort(parts)
			fmt.Fprintf(&b, "    open_hours: {%s}\n", strings.Join(parts, ", "))
		}
		if len(pr.Mocks) > 0 {
			fmt.Fprintf(&b, "    http:\n")
			for i, m := range pr.Mocks {
				fmt.Fprintf(&b, "      %s: {status: 200, body: %s}   # TODO: real values\n", strconv.Quote(m), pr.Bodies[i])
			}
		}
		if len(pr.Steps) == 0 {
			fmt.Fprintf(&b, "    script: []\n")
		} else {
			fmt.Fprintf(&b, "    script:\n")
			for _, s := range pr.Steps {
				fmt.Fprintf(&b, "      - %s\n", s)
			}
		}
		if pr.Checked && pr.Status != "" {
			exp := "status: " + string(pr.Status)
			if pr.Outcome != "" {
				exp += ", outcome: " + yamlScalar(pr.Outcome)
			}
			fmt.Fprintf(&b, "    expect: {%s}   # what the playbook does now: check it is what you mean; add vars: and created:\n", exp)
		} else {
			fmt.Fprintf(&b, "    # TODO: expect: {outcome: ..., vars: {...}, created: [...]}\n")
		}
	}
	return b.String()
}

// sampleBody is a JSON response with a made-up value, of the right type,
// at every path the call saves.
func sampleBody(p *engine.Program, c *engine.Call) string { return sampleBodyWith(p, c, "", nil) }

// sampleBodyWith is sampleBody with var set to value.
func sampleBodyWith(p *engine.Program, c *engine.Call, set string, value any) string {
	body := map[string]any{}
	for _, sv := range c.Save {
		var v any = "text"
		if d, ok := p.Var(sv.Var); ok {
			switch d.Type {
			case engine.TypeNumber, engine.TypeInt:
				v = 1
			case engine.TypeBool:
				v = true
			case engine.TypeEmail:
				v = "ana@example.com"
			case engine.TypeURL:
				v = "https://www.example.com"
			case engine.TypeDate:
				v = "2026-02-10"
			case engine.TypeList:
				v = []any{}
			case engine.TypeMap:
				v = map[string]any{}
			}
		}
		if sv.Var == set {
			v = value
		}
		m := body
		for i, k := range sv.Path {
			if i == len(sv.Path)-1 {
				m[k] = v
				break
			}
			sub, ok := m[k].(map[string]any)
			if !ok {
				sub = map[string]any{}
				m[k] = sub
			}
			m = sub
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return "{}"
	}
	return string(b)
}
