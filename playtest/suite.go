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

// Coverage counts the cards of one playbook that tests entered.
type Coverage struct {
	Playbook string
	Cards    []string // card names, in program order (sub-flow copies included)
	Entered  []bool   // Entered[i]: some test entered Cards[i]
	Tests    int      // tests that ran against the playbook
}

// NewCoverage returns an empty coverage of p.
func NewCoverage(p *engine.Program) *Coverage {
	c := &Coverage{Playbook: p.ID, Cards: make([]string, len(p.Cards)), Entered: make([]bool, len(p.Cards))}
	for i, card := range p.Cards {
		c.Cards[i] = card.Name
	}
	return c
}

// Add counts the cards r entered.
func (c *Coverage) Add(r *Result) {
	c.Tests++
	for _, i := range r.Entered {
		if i >= 0 && i < len(c.Entered) {
			c.Entered[i] = true
		}
	}
}

// Covered returns how many cards were entered.
func (c *Coverage) Covered() int {
	n := 0
	for _, e := range c.Entered {
		if e {
			n++
		}
	}
	return n
}

// Percent returns the covered share of the cards, 0 to 100; 100 for a
// playbook with no cards.
func (c *Coverage) Percent() float64 {
	if len(c.Cards) == 0 {
		return 100
	}
	return 100 * float64(c.Covered()) / float64(len(c.Cards))
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

// Options tune [RunFiles].
type Options struct {
	// Match selects tests by name; nil runs them all.
	Match func(name string) bool
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
			res := Run(p, t)
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
