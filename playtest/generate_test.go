package playtest

import (
	"strings"
	"testing"
)

// Drafts for the edges no test takes: those that need no condition take
// their edge as written, and pasting them into the tests covers it.
func TestGenerateCoversEdges(t *testing.T) {
	p := load(t, countryBook)
	f, diags := Parse("c.test.yaml", []byte("tests:\n  - name: one\n    script: [{click: Germany}]\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cov := NewCoverage(p)
	cov.Add(Run(p, f.Tests[0]))
	un := cov.UncoveredEdges()
	if len(un) == 0 {
		t.Fatal("nothing uncovered")
	}
	props := Generate(p, un)
	for _, pr := range props {
		if !pr.Reached || !pr.Checked {
			t.Errorf("%s: reached %v, checked %v, steps %q", pr.Name, pr.Reached, pr.Checked, pr.Steps)
		}
	}
	text := FormatProposals(props)
	f2, diags := Parse("c.test.yaml", []byte("tests:\n  - name: one\n    script: [{click: Germany}]\n"+text))
	if diags.HasErrors() {
		t.Fatalf("the drafts do not parse:\n%s\n%v", text, diags)
	}
	cov = NewCoverage(p)
	for _, tt := range f2.Tests {
		cov.Add(Run(p, tt))
	}
	if left := cov.UncoveredEdges(); len(left) > 0 {
		t.Errorf("after adding the drafts, edges left: %v\n%s", left, text)
	}
	if !strings.Contains(text, `- click: France`) || !strings.Contains(text, "# checked") {
		t.Errorf("drafts:\n%s", text)
	}
}

// A draft whose edge needs open hours sets them: the condition on
// open_hours() was a TODO and the draft was not checked before search.
func TestGenerateSetsOpenHours(t *testing.T) {
	p := load(t, shopBook)
	props := Generate(p, p.Edges())
	text := FormatProposals(props)
	if !strings.Contains(text, "# holds as written: make `open_hours(\"support\")` true at done\n    open_hours: {support: true}") {
		t.Errorf("no open hours for the branch condition:\n%s", text)
	}
	if !strings.Contains(text, `"POST https://api.example.com/orders/*?v=2": {status: 200, body: {"status":"text"}}`) {
		t.Errorf("no pattern mock for the call:\n%s", text)
	}
	for _, pr := range props {
		if !pr.Checked {
			t.Errorf("%s: not checked: %v", pr.Name, pr.Notes)
		}
		if pr.Edge.Kind == "branch" && pr.Edge.Index == 0 && !pr.Open["support"] {
			t.Errorf("the open_hours arm's draft does not open the support team: %v", pr.Open)
		}
	}
}
