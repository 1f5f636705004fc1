package playtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Coverage counts what of one playbook the tests went through: its cards,
// its edges (every choice, intent, branch arm, fallback, retry exhaustion,
// skip, handoff and offline path, call success and failure; see
// [engine.Program.Edges]) and its locales.
type Coverage struct {
	Playbook string
	Cards    []string // card names, in program order (sub-flow copies included)
	Entered  []bool   // Entered[i]: some test entered Cards[i]
	Edges    []engine.Edge
	Taken    []bool   // Taken[i]: some test took Edges[i]
	Locales  []string // the playbook's locales
	Spoken   []bool   // Spoken[i]: some test ran in Locales[i]
	Tests    int      // tests that ran against the playbook

	program *engine.Program
}

// NewCoverage returns an empty coverage of p.
func NewCoverage(p *engine.Program) *Coverage {
	c := &Coverage{Playbook: p.ID, Cards: make([]string, len(p.Cards)), Entered: make([]bool, len(p.Cards)), program: p}
	for i, card := range p.Cards {
		c.Cards[i] = card.Name
	}
	c.Edges = p.Edges()
	c.Taken = make([]bool, len(c.Edges))
	c.Locales = p.Locales
	if len(c.Locales) == 0 && p.Locale != "" {
		c.Locales = []string{p.Locale}
	}
	c.Spoken = make([]bool, len(c.Locales))
	return c
}

// Add counts the cards, edges and locales r went through.
func (c *Coverage) Add(r *Result) {
	c.Tests++
	for _, i := range r.Entered {
		if i >= 0 && i < len(c.Entered) {
			c.Entered[i] = true
		}
	}
	for i, e := range c.Edges {
		if r.Edges[e] {
			c.Taken[i] = true
		}
	}
	for i, l := range c.Locales {
		if r.Locales[l] {
			c.Spoken[i] = true
		}
	}
}

func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Covered returns how many cards were entered.
func (c *Coverage) Covered() int { return count(c.Entered) }

// EdgesTaken returns how many edges were taken.
func (c *Coverage) EdgesTaken() int { return count(c.Taken) }

// LocalesSpoken returns how many locales a test ran in.
func (c *Coverage) LocalesSpoken() int { return count(c.Spoken) }

// Percent returns the covered share of the cards, 0 to 100; 100 for a
// playbook with no cards.
func (c *Coverage) Percent() float64 {
	if len(c.Cards) == 0 {
		return 100
	}
	return 100 * float64(c.Covered()) / float64(len(c.Cards))
}

// Total returns the covered share of cards, edges and locales together, 0
// to 100: what `--min-coverage` checks.
func (c *Coverage) Total() float64 {
	all := len(c.Cards) + len(c.Edges) + len(c.Locales)
	if all == 0 {
		return 100
	}
	return 100 * float64(c.Covered()+c.EdgesTaken()+c.LocalesSpoken()) / float64(all)
}

// Uncovered returns the names of the cards no test entered, in order and
// without repeats.
func (c *Coverage) Uncovered() []string {
	var out []string
	for i, e := range c.Entered {
		if !e && !slices.Contains(out, c.Cards[i]) {
			out = append(out, c.Cards[i])
		}
	}
	return out
}

// UncoveredEdges returns the edges no test took, in order.
func (c *Coverage) UncoveredEdges() []engine.Edge {
	var out []engine.Edge
	for i, e := range c.Edges {
		if !c.Taken[i] {
			out = append(out, e)
		}
	}
	return out
}

// UnspokenLocales returns the locales no test ran in.
func (c *Coverage) UnspokenLocales() []string {
	var out []string
	for i, l := range c.Locales {
		if !c.Spoken[i] {
			out = append(out, l)
		}
	}
	return out
}

// DescribeEdge names an edge of p for people: `where: choice "Germany"`,
// `faq: intent pricing`, `size: branch 2 (if score >= 2)`.
func DescribeEdge(p *engine.Program, e engine.Edge) string {
	if e.Card < 0 || e.Card >= len(p.Cards) {
		return e.String()
	}
	c := p.Cards[e.Card]
	what := e.String()
	switch e.Kind {
	case engine.EdgeChoice:
		if c.Ask != nil && e.Index < len(c.Ask.Choices) {
			what = "choice " + quote(c.Ask.Choices[e.Index].Value)
		}
	case engine.EdgeIntent:
		if c.Ask != nil && e.Index < len(c.Ask.Intents) {
			what = "intent " + c.Ask.Intents[e.Index].Name
		}
	case engine.EdgeBranch:
		if e.Index < len(c.Branch) && c.Branch[e.Index].If != nil {
			what += " (if " + c.Branch[e.Index].If.Src + ")"
		}
	case engine.EdgeVariant:
		if x := c.Experiment; x != nil && e.Index < len(x.Variants) {
			what = "variant " + x.Variants[e.Index].Name
		}
	case engine.EdgeRetry:
		what = "retry exhausted"
	}
	return c.Name + ": " + what
}

// Options tune [RunFiles].
type Options struct {
	// Match selects tests by name; nil runs them all.
	Match func(name string) bool
	// Matcher picks intents at intent cards; nil is the built-in one.
	Matcher engine.IntentMatcher
}

// FileResult is what ran from one test file.
type FileResult struct {
	File    *File
	Program *engine.Program // the playbook under test
	Results []*Result       // in file order; tests Match left out are absent
}

// Report is the outcome of running test files.
type Report struct {
	Files []*FileResult
	// Coverage has an entry per playbook that tests ran against.
	Coverage map[string]*Coverage
	// Diagnostics are problems in the test files themselves (their tests
	// did not run), sorted by position.
	Diagnostics source.Diagnostics
	// Sources holds the test files' text, for rendering diagnostics.
	Sources source.Files
}

// Counts returns how many tests passed and failed.
func (r *Report) Counts() (passed, failed int) {
	for _, f := range r.Files {
		for _, res := range f.Results {
			if res.Passed() {
				passed++
			} else {
				failed++
			}
		}
	}
	return passed, failed
}

// OK reports whether every test passed and no test file had an error.
func (r *Report) OK() bool {
	_, failed := r.Counts()
	return failed == 0 && !r.Diagnostics.HasErrors()
}

// RunFiles parses and runs the test files against the playbooks in set.
// A test file names its playbook with `playbook: ID`; without it, the
// playbook beside it (NAME.yaml for NAME.test.yaml) is used. Files are read
// from set.Files when there, else from disk.
func RunFiles(set *dsl.Set, files []string, opts Options) *Report {
	rep := &Report{Coverage: map[string]*Coverage{}, Sources: source.Files{}}
	for _, name := range files {
		src, ok := set.Files[name]
		if !ok {
			b, err := os.ReadFile(name)
			if err != nil {
				rep.Diagnostics.Errorf(source.Range{Filename: name}, "cannot read the test file: %v", pathErr(err))
				continue
			}
			src = b
		}
		rep.Sources[name] = src
		f, diags := Parse(name, src)
		rep.Diagnostics = append(rep.Diagnostics, diags...)
		if diags.HasErrors() && len(f.Tests) == 0 {
			continue
		}
		p, d := programFor(set, f)
		if d != nil {
			rep.Diagnostics = append(rep.Diagnostics, d)
			continue
		}
		fr := &FileResult{File: f, Program: p}
		cov := rep.Coverage[p.ID]
		if cov == nil {
			cov = NewCoverage(p)
			rep.Coverage[p.ID] = cov
		}
		for _, t := range f.Tests {
			if opts.Match != nil && !opts.Match(t.Name) {
				continue
			}
			res := RunWith(p, t, opts.Matcher)
			cov.Add(res)
			fr.Results = append(fr.Results, res)
		}
		rep.Files = append(rep.Files, fr)
	}
	rep.Diagnostics.Sort()
	return rep
}

func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// programFor finds the playbook a test file is about.
func programFor(set *dsl.Set, f *File) (*engine.Program, *source.Diagnostic) {
	if f.Playbook != "" {
		if p := set.ByID[f.Playbook]; p != nil {
			return p, nil
		}
		d := &source.Diagnostic{Severity: source.Error, Subject: f.PlaybookPos,
			Summary: fmt.Sprintf("no playbook %q was loaded", f.Playbook)}
		ids := make([]string, 0, len(set.ByID))
		for id := range set.ByID {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if s := source.Suggest(f.Playbook, ids); s != "" {
			d.Detail = fmt.Sprintf("did you mean %q?", s)
		} else {
			d.Detail = "is the playbook beside this file, and free of errors? `playbook validate` shows its problems"
		}
		return nil, d
	}
	base := strings.TrimSuffix(strings.TrimSuffix(f.Name, ".test.yaml"), ".test.yml")
	for _, ext := range []string{".yaml", ".yml"} {
		if p := ProgramByFile(set, base+ext); p != nil {
			return p, nil
		}
	}
	return nil, &source.Diagnostic{Severity: source.Error, Subject: source.At(f.Name, 1, 1),
		Summary: "the test file does not say which playbook it tests",
		Detail:  "add `playbook: ID` at the top"}
}

// ProgramByFile returns the program loaded from the file at path, matching
// paths however they were spelled (relative, absolute, with ./).
func ProgramByFile(set *dsl.Set, path string) *engine.Program {
	if set == nil {
		return nil
	}
	if p := set.ByFile[path]; p != nil {
		return p
	}
	want := absClean(path)
	for name, p := range set.ByFile {
		if absClean(name) == want {
			return p
		}
	}
	for _, p := range set.Programs {
		if len(p.Files) > 0 && absClean(p.Files[0]) == want {
			return p
		}
	}
	return nil
}

func absClean(path string) string {
	if a, err := filepath.Abs(path); err == nil {
		return a
	}
	return filepath.Clean(path)
}
