package playtest

import (
	"strings"
	"testing"
)

const abBook = `playbook: ab
cards:
  hello:
    experiment: greeting
    variants:
      - {name: short, weight: 50, goto: short}
      - {name: long, weight: 50, goto: long}
  short:
    say: Hi!
    end: done
  long:
    say: Hello, how can we help you today?
    end: done
`

// TestVariantPins: a `variant:` step puts the conversation in that variant
// from its start; coverage counts each variant as an edge; a pin to a
// variant the playbook lacks fails at the step with a suggestion.
func TestVariantPins(t *testing.T) {
	p := load(t, abBook)
	f, diags := Parse("ab.test.yaml", []byte(`tests:
  - name: short
    script:
      - bot: Hi!
      - variant: short
  - name: long
    script:
      - variant: {greeting: long}
      - bot: Hello, how can we help you today?
`))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	cov := NewCoverage(p)
	for i, tt := range f.Tests {
		r := Run(p, tt)
		if !r.Passed() {
			t.Fatalf("test %s: %v\n%s", tt.Name, r.Failure, strings.Join(r.Transcript, "\n"))
		}
		cov.Add(r)
		if i == 0 {
			cov2 := NewCoverage(p)
			cov2.Add(r)
			if un := cov2.UncoveredEdges(); len(un) != 1 || DescribeEdge(p, un[0]) != "hello: variant long" {
				t.Errorf("after the short test, uncovered: %v", un)
			}
		}
	}
	if un := cov.UncoveredEdges(); len(un) != 0 {
		t.Errorf("both variants tested, yet uncovered: %v", un)
	}

	for _, tc := range []struct{ step, want string }{
		{"variant: shrot", `the playbook has no variant "shrot" (did you mean "short"?)`},
		{"variant: {greting: short}", `the playbook has no experiment "greting"`},
		{"variant: {greeting: medium}", `experiment "greeting" has no variant "medium"`},
	} {
		tt := parseOne(t, "tests:\n  - name: x\n    script:\n      - "+tc.step+"\n      - bot: Hi!\n")
		r := Run(p, tt)
		if r.Passed() || r.Failure.Summary != tc.want || r.Failure.Pos.Start.Line != 4 {
			t.Errorf("%s: failure %v, want %q at line 4", tc.step, r.Failure, tc.want)
		}
	}
	tt := parseOne(t, "tests:\n  - name: x\n    script:\n      - variant: short\n      - variant: long\n")
	if r := Run(p, tt); r.Passed() || !strings.Contains(r.Failure.Summary, "a visitor keeps one variant") {
		t.Errorf("two variants of one experiment: %v", r.Failure)
	}
}

// TestGenerateCoversVariants: drafted tests pin each variant.
func TestGenerateCoversVariants(t *testing.T) {
	p := load(t, abBook)
	cov := NewCoverage(p)
	props := Generate(p, cov.UncoveredEdges())
	text := FormatProposals(props)
	f, diags := Parse("ab.test.yaml", []byte("tests:\n"+text))
	if diags.HasErrors() {
		t.Fatalf("the drafts do not parse:\n%s\n%v", text, diags)
	}
	for _, tt := range f.Tests {
		r := Run(p, tt)
		if !r.Passed() {
			t.Errorf("draft %s fails: %v\n%s", tt.Name, r.Failure, text)
		}
		cov.Add(r)
	}
	if left := cov.UncoveredEdges(); len(left) > 0 || !strings.Contains(text, "- variant: long") {
		t.Errorf("after the drafts, edges left: %v\n%s", left, text)
	}
}
