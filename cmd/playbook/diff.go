package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/playtest"
)

var diffCommand = &command{
	name:    "diff",
	summary: "show what a change to a playbook does to its conversations",
	usage:   "diff OLD.yaml NEW.yaml",
	help: `Compares two versions of a playbook by what they do, not by their lines:
the outcomes added or removed, the ways through the conversation that no
longer create a record (a deal, a lead...) or now create one, the cards
added or removed, and every text changed, per language.

To compare with the last commit:

  git show HEAD:playbooks/sales/website-sales.yaml > /tmp/old.yaml
  playbook diff /tmp/old.yaml playbooks/sales/website-sales.yaml

A way through the conversation is the list of cards from the first to an
end; loops are followed once. Exit status: 0 when the two behave the same
and say the same, 1 when they differ (or a file has errors), 2 when the
command line is wrong.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) != 2 {
				return usageError("give two playbook files: the old version, then the new")
			}
			old, err := loadAlone(std.err, args[0])
			if err != nil {
				return err
			}
			cur, err := loadAlone(std.err, args[1])
			if err != nil {
				return err
			}
			if n := writeDiff(std.out, old, cur); n > 0 {
				return errFailed
			}
			fmt.Fprintln(std.out, "no change in behaviour or texts")
			return nil
		}
	},
}

// loadAlone loads one playbook file on its own (two versions of a playbook
// share an id, so they cannot load as one folder), or with its folder when
// it includes another playbook.
func loadAlone(stderr io.Writer, file string) (*engine.Program, error) {
	if set, _ := dsl.LoadPaths(file); set != nil {
		if p := playtest.ProgramByFile(set, file); p != nil {
			return p, nil
		}
	}
	return loadOne(stderr, file)
}

// path is one way through a program: the cards from the first to an end.
type path struct {
	cards   []string
	outcome string          // "" when the conversation falls off the last card
	records map[string]bool // kinds created on the way
}

func (p path) key() string { return strings.Join(p.cards, " → ") }

// maxPaths bounds how many ways through a playbook diff compares.
const maxPaths = 5000

// paths lists the ways through p, following every choice, intent, branch
// arm, fallback, other, retry exhaustion, offline path and failed call, and
// each loop once.
func paths(p *engine.Program) (out []path, truncated bool) {
	if len(p.Cards) == 0 {
		return nil, false
	}
	var walk func(i int, seen []bool, cards []string, recs map[string]bool)
	walk = func(i int, seen []bool, cards []string, recs map[string]bool) {
		if len(out) >= maxPaths {
			truncated = true
			return
		}
		if i < 0 || i >= len(p.Cards) || seen[i] {
			if i < 0 {
				out = append(out, path{slices.Clone(cards), "", maps.Clone(recs)})
			}
			return // a loop: followed once
		}
		c := p.Cards[i]
		seen[i] = true
		defer func() { seen[i] = false }()
		cards = append(cards, c.Name)
		recs = maps.Clone(recs)
		for _, cr := range c.Create {
			recs[string(cr.Kind)] = true
		}
		end := func(outcome string) {
			out = append(out, path{slices.Clone(cards), outcome, maps.Clone(recs)})
		}
		var next []int
		flow := func() {
			if c.HasEnd && c.Handoff == nil {
				end(c.End)
				return
			}
			if x := c.Experiment; x != nil {
				for _, v := range x.Variants {
					next = append(next, v.Goto)
				}
				return
			}
			elseArm := false
			for _, b := range c.Branch {
				next = append(next, b.Goto)
				elseArm = elseArm || b.If == nil
			}
			if !elseArm {
				next = append(next, c.Next)
			}
		}
		switch {
		case c.Handoff != nil:
			outcome := "handoff"
			if c.HasEnd && c.End != "" {
				outcome = c.End
			}
			end(outcome)
			next = append(next, c.Handoff.Offline)
		case c.Call != nil:
			flow()
			if c.Call.OnError >= 0 {
				next = append(next, c.Call.OnError)
			}
		case c.Ask != nil:
			a := c.Ask
			own := len(a.Choices) == 0 && len(a.Intents) == 0
			for _, ch := range a.Choices {
				if ch.Goto >= 0 {
					next = append(next, ch.Goto)
				} else {
					own = true
				}
			}
			for _, in := range a.Intents {
				if in.Goto >= 0 {
					next = append(next, in.Goto)
				} else {
					own = true
				}
			}
			if len(a.Intents) > 0 && a.Fallback >= 0 {
				next = append(next, a.Fallback)
			}
			if a.Other != nil {
				if a.Other.Goto >= 0 {
					next = append(next, a.Other.Goto)
				} else {
					own = true
				}
			}
			if a.Retry.Max > 0 {
				if a.Retry.Then >= 0 {
					next = append(next, a.Retry.Then)
				} else {
					own = true
				}
			}
			if a.SkipIf != nil || own || c.HasEnd {
				flow()
			}
		default:
			flow()
		}
		for _, n := range uniq(next) {
			walk(n, seen, cards, recs)
		}
	}
	walk(0, make([]bool, len(p.Cards)), nil, map[string]bool{})
	return out, truncated
}

func uniq(xs []int) []int {
	var out []int
	for _, x := range xs {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// writeDiff writes what changed from old to cur and returns how many
// differences it found.
func writeDiff(w io.Writer, old, cur *engine.Program) int {
	n := 0
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		n += len(lines)
		fmt.Fprintf(w, "%s:\n", title)
		for _, l := range lines {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	op, oTrunc := paths(old)
	np, nTrunc := paths(cur)
	if oTrunc || nTrunc {
		fmt.Fprintf(w, "note: more than %d ways through the playbook; only the first %d are compared\n", maxPaths, maxPaths)
	}

	outcomes := func(ps []path) []string {
		var out []string
		for _, p := range ps {
			if p.outcome != "" && !slices.Contains(out, p.outcome) {
				out = append(out, p.outcome)
			}
		}
		slices.Sort(out)
		return out
	}
	oo, no := outcomes(op), outcomes(np)
	var lines []string
	for _, o := range oo {
		if !slices.Contains(no, o) {
			lines = append(lines, "- "+o+" (no way through ends with it now)")
		}
	}
	for _, o := range no {
		if !slices.Contains(oo, o) {
			lines = append(lines, "+ "+o)
		}
	}
	section("outcomes", lines)

	// Records, path by path: the same cards in both versions that no longer
	// (or now) create a kind; then the kinds no way creates any more.
	byKey := map[string]path{}
	for _, p := range np {
		byKey[p.key()] = p
	}
	lines = nil
	kinds := func(ps []path) map[string]bool {
		out := map[string]bool{}
		for _, p := range ps {
			for k := range p.records {
				out[k] = true
			}
		}
		return out
	}
	for _, p := range op {
		q, ok := byKey[p.key()]
		if !ok {
			continue
		}
		for _, k := range slices.Sorted(maps.Keys(p.records)) {
			if !q.records[k] {
				lines = append(lines, fmt.Sprintf("- no longer creates a %s: %s", k, p.key()))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(q.records)) {
			if !p.records[k] {
				lines = append(lines, fmt.Sprintf("+ now creates a %s: %s", k, p.key()))
			}
		}
	}
	oldKeys := map[string]bool{}
	for _, p := range op {
		oldKeys[p.key()] = true
	}
	var gone, added []string
	for _, p := range op {
		if _, still := byKey[p.key()]; !still && len(p.records) > 0 {
			gone = append(gone, fmt.Sprintf("- no longer a way through: %s (it created %s; %s)", p.key(), kindList(p.records), outcomeName(p.outcome)))
		}
	}
	for _, p := range np {
		if !oldKeys[p.key()] && len(p.records) > 0 {
			added = append(added, fmt.Sprintf("+ new way through: %s (creates %s; %s)", p.key(), kindList(p.records), outcomeName(p.outcome)))
		}
	}
	lines = append(lines, capLines(gone, 10)...)
	lines = append(lines, capLines(added, 10)...)
	ok, nk := kinds(op), kinds(np)
	for _, k := range slices.Sorted(maps.Keys(ok)) {
		if !nk[k] {
			lines = append(lines, fmt.Sprintf("- no way through creates a %s any more", k))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(nk)) {
		if !ok[k] {
			lines = append(lines, fmt.Sprintf("+ a way through now creates a %s", k))
		}
	}
	section("records", lines)

	// Ways through that ended with an outcome and now end otherwise.
	lines = nil
	for _, p := range op {
		if q, ok := byKey[p.key()]; ok && q.outcome != p.outcome {
			lines = append(lines, fmt.Sprintf("%s: %s → %s", p.key(), outcomeName(p.outcome), outcomeName(q.outcome)))
		}
	}
	section("outcome changed on the same way through", lines)

	lines = nil
	for _, c := range old.Cards {
		if _, ok := cur.Card(c.Name); !ok && !slices.Contains(lines, "- "+c.Name) {
			lines = append(lines, "- "+c.Name)
		}
	}
	for _, c := range cur.Cards {
		if _, ok := old.Card(c.Name); !ok && !slices.Contains(lines, "+ "+c.Name) {
			lines = append(lines, "+ "+c.Name)
		}
	}
	section("cards", lines)

	lines = nil
	for _, l := range old.Locales {
		if !slices.Contains(cur.Locales, l) {
			lines = append(lines, "- "+l)
		}
	}
	for _, l := range cur.Locales {
		if !slices.Contains(old.Locales, l) {
			lines = append(lines, "+ "+l)
		}
	}
	section("locales", lines)

	lines = nil
	seen := map[string]bool{}
	for _, c := range old.Cards {
		nc, ok := cur.Card(c.Name)
		if !ok || seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		ot, nt := cardTexts(c), cardTexts(nc)
		for _, k := range slices.Sorted(maps.Keys(ot)) {
			ov := ot[k]
			for _, loc := range unionKeys(ov, nt[k]) {
				a, b := ov[loc], nt[k][loc]
				if a != b {
					lines = append(lines, fmt.Sprintf("%s %s [%s]: %s → %s", c.Name, k, loc, textOrNone(a), textOrNone(b)))
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(nt)) {
			if _, had := ot[k]; !had {
				for _, loc := range slices.Sorted(maps.Keys(nt[k])) {
					lines = append(lines, fmt.Sprintf("%s %s [%s]: (none) → %q", c.Name, k, loc, nt[k][loc]))
				}
			}
		}
	}
	section("texts", lines)
	return n
}

func outcomeName(o string) string {
	if o == "" {
		return "(no outcome)"
	}
	return o
}

func textOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

func unionKeys(a, b map[string]string) []string {
	m := maps.Clone(a)
	if m == nil {
		m = map[string]string{}
	}
	for k := range b {
		m[k] = ""
	}
	return slices.Sorted(maps.Keys(m))
}

// cardTexts lists a card's texts by part ("say 1", "ask", "choice 2",
// "retry.say"...) and locale, as written (holes as {{ expr }}).
func cardTexts(c *engine.Card) map[string]map[string]string {
	out := map[string]map[string]string{}
	add := func(part string, t *engine.Text) {
		if t == nil {
			return
		}
		m := map[string]string{}
		for loc, tm := range t.ByLocale {
			m[loc] = templateSource(tm)
		}
		out[part] = m
	}
	for i, t := range c.Say {
		name := "say"
		if len(c.Say) > 1 {
			name = fmt.Sprintf("say %d", i+1)
		}
		add(name, t)
	}
	for i, l := range c.Links {
		add(fmt.Sprintf("link %d", i+1), l.Label)
	}
	if a := c.Ask; a != nil {
		add("ask", a.Prompt)
		for _, ch := range a.Choices {
			add("choice "+ch.Value, ch.Label)
		}
		for i, v := range a.Validate {
			add(fmt.Sprintf("validate %d", i+1), v.Say)
		}
		add("retry.say", a.Retry.Say)
	}
	if c.Handoff != nil {
		add("handoff.say", c.Handoff.Say)
	}
	return out
}

func templateSource(t *engine.Template) string {
	if t == nil {
		return ""
	}
	if t.IsStatic {
		return t.Static
	}
	var b strings.Builder
	for _, p := range t.Parts {
		if p.Expr != nil {
			b.WriteString("{{ " + p.Expr.Src + " }}")
		} else {
			b.WriteString(p.Lit)
		}
	}
	return b.String()
}

func kindList(recs map[string]bool) string {
	ks := slices.Sorted(maps.Keys(recs))
	for i, k := range ks {
		ks[i] = article(k)
	}
	return strings.Join(ks, ", ")
}

func article(w string) string {
	if w != "" && strings.ContainsRune("aeiou", rune(w[0])) {
		return "an " + w
	}
	return "a " + w
}

// capLines keeps the first n lines and says how many more there were.
func capLines(lines []string, n int) []string {
	if len(lines) <= n {
		return lines
	}
	return append(lines[:n:n], fmt.Sprintf("  … and %d more", len(lines)-n))
}
