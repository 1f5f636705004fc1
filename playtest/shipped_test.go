package playtest

import (
	"path/filepath"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// The example playbooks load without errors under today's checker and
// their tests pass: a new rule of the checker must not break them
// unnoticed.
func TestShippedPlaybooks(t *testing.T) {
	set, diags := dsl.LoadPaths("../playbooks")
	if diags.HasErrors() {
		t.Fatalf("the example playbooks do not load:\n%v", diags)
	}
	files, err := filepath.Glob("../playbooks/*/*.test.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	rep := RunFiles(set, files, Options{})
	if passed, failed := rep.Counts(); !rep.OK() || failed > 0 || passed == 0 {
		t.Fatalf("passed %d, failed %d, diagnostics %v", passed, failed, rep.Diagnostics)
	}
}

// --generate proposes, for every edge of every example playbook, a draft
// that takes it as written: the answers, opening hours, agents online,
// visitor fields and call bodies it needs are found (solve, then search).
// Before search, 83 of 96 edges were checked; the rest were TODOs. Each
// draft passes as a test, with the expect line written from its run.
func TestGenerateTakesEveryShippedEdge(t *testing.T) {
	set, diags := dsl.LoadPaths("../playbooks")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	total := 0
	for id, p := range set.ByID {
		props := Generate(p, p.Edges())
		for _, pr := range props {
			total++
			if !pr.Checked {
				t.Errorf("%s: the draft for %q does not take its edge: %v\n%s", id, pr.Name, pr.Notes, FormatProposals([]*Proposal{pr}))
			}
		}
		// Pasted under tests:, the drafts pass, their expect lines included.
		text := FormatProposals(props)
		f, diags := Parse(id+".test.yaml", []byte("tests:\n"+text))
		if diags.HasErrors() {
			t.Fatalf("%s: the drafts do not parse: %v\n%s", id, diags, text)
		}
		for _, tt := range f.Tests {
			if res := Run(p, tt); !res.Passed() {
				t.Errorf("%s: draft %q fails: %s (%s)", id, tt.Name, res.Failure.Summary, res.Failure.Got)
			}
		}
	}
	if total < 90 {
		t.Fatalf("only %d edges in the example playbooks", total)
	}
}
