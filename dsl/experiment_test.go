package dsl_test

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// exHead starts every experiment case; cards start on line 3.
const exHead = "playbook: t\ncards:\n"

// exTail are the cards the variants go to (after the case's own cards).
const exTail = "  x:\n    say: X\n    end: done\n  y:\n    say: Y\n    end: done\n"

// TestExperimentChecks gives each rule about `variants:` a small playbook
// and the diagnostic it must produce: "line:col: severity: message".
func TestExperimentChecks(t *testing.T) {
	tests := []struct{ name, cards, want string }{
		{"valid", "  a:\n    say: hi\n    variants:\n      - {name: one, weight: 30, goto: x}\n      - {name: two, weight: 70, goto: y}\n", ""},
		{"weights default to 1", "  a:\n    variants: [{name: one, goto: x}, {name: two, goto: y}]\n", ""},
		{"zero weight", "  a:\n    variants: [{name: one, weight: 0, goto: x}, {name: two, goto: y}]\n", `4:36: error: weight must be a whole number above 0, not "0"`},
		{"negative weight", "  a:\n    variants: [{name: one, weight: -5, goto: x}, {name: two, goto: y}]\n", `4:36: error: weight must be a whole number above 0, not "-5"`},
		{"fractional weight", "  a:\n    variants: [{name: one, weight: 0.5, goto: x}, {name: two, goto: y}]\n", `4:36: error: weight must be a whole number above 0, not "0.5"`},
		{"duplicate names", "  a:\n    variants: [{name: one, goto: x}, {name: one, goto: y}]\n", `4:45: error: duplicate variant name "one"`},
		{"one variant", "  a:\n    variants: [{name: one, goto: x}]\n", "4:15: error: an experiment needs at least two variants"},
		{"not a list", "  a:\n    variants: x\n", "4:15: error: variants must be a list of {name, weight, goto}"},
		{"goto unknown", "  a:\n    variants: [{name: one, goto: xx}, {name: two, goto: y}]\n", `4:34: error: variant goto: there is no card "xx" (did you mean "x"?)`},
		{"no goto", "  a:\n    variants: [{name: one}, {name: two, goto: y}]\n", "4:16: error: each variant needs `goto:`"},
		{"no name", "  a:\n    variants: [{goto: x}, {name: two, goto: y}]\n", "4:16: error: each variant needs `name:`"},
		{"bad name", "  a:\n    variants: [{name: \"o ne\", goto: x}, {name: two, goto: y}]\n", `4:23: error: variant name "o ne" must be letters`},
		{"unknown key", "  a:\n    variants: [{name: one, wieght: 2, goto: x}, {name: two, goto: y}]\n", `4:28: error: unknown key "wieght" in variant (did you mean "weight"?)`},
		{"with goto", "  a:\n    goto: x\n    variants: [{name: one, goto: x}, {name: two, goto: y}]\n", "4:5: error: a card with `variants` cannot have `goto`"},
		{"with ask", "  a:\n    ask: Name?\n    variants: [{name: one, goto: x}, {name: two, goto: y}]\n", "4:5: error: a card with `variants` cannot have `ask`"},
		{"with branch", "  a:\n    branch: [{goto: x}]\n    variants: [{name: one, goto: x}, {name: two, goto: y}]\n", "4:5: error: a card with `variants` cannot have `branch`"},
		{"experiment without variants", "  a:\n    say: hi\n    experiment: greeting\n", "5:5: error: experiment names the variants of a card, and this card has no `variants:`"},
		{"duplicate experiment", "  a:\n    experiment: greet\n    variants: [{name: one, goto: b}, {name: two, goto: b}]\n  b:\n    experiment: greet\n    variants: [{name: one, goto: x}, {name: two, goto: y}]\n", `7:17: error: experiment "greet" is also at line 4`},
		{"a variant reaches a card", "  a:\n    variants: [{name: one, goto: y}, {name: two, goto: y}]\n", "5:3: warning: card \"x\" is never reached"},
		{"variants loop", "  a:\n    variants: [{name: one, goto: a}, {name: two, goto: y}]\n", "3:3: error: these cards can loop forever without waiting for the visitor: a → a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := dsl.Load("t.yaml", []byte(exHead+tt.cards+exTail))
			var lines []string
			for _, d := range diags {
				lines = append(lines, d.Error())
			}
			all := strings.Join(lines, "\n")
			if tt.want == "" {
				if diags.HasErrors() || len(diags) > 0 {
					t.Errorf("unexpected diagnostics:\n%s", all)
				}
				return
			}
			if !strings.Contains(all, "t.yaml:"+tt.want) {
				t.Errorf("want diagnostic\n  t.yaml:%s\ngot:\n  %s", tt.want, strings.ReplaceAll(all, "\n", "\n  "))
			}
		})
	}
}

// TestExperimentCompiles: the program carries the experiment, its
// variants in order with their weights and card indices.
func TestExperimentCompiles(t *testing.T) {
	src := exHead + "  a:\n    experiment: greeting\n    variants:\n      - {name: one, weight: 30, goto: y}\n      - {name: two, weight: 70, goto: x}\n" + exTail
	p, diags := dsl.Load("t.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	x := p.Cards[0].Experiment
	if x == nil {
		t.Fatal("no experiment on card a")
	}
	if x.Name != "greeting" || x.Total != 100 || len(x.Variants) != 2 {
		t.Fatalf("experiment = %+v", x)
	}
	if v := x.Variants[0]; v.Name != "one" || v.Weight != 30 || p.Cards[v.Goto].Name != "y" {
		t.Errorf("variant 0 = %+v", v)
	}
	if v := x.Variants[1]; v.Name != "two" || v.Weight != 70 || p.Cards[v.Goto].Name != "x" {
		t.Errorf("variant 1 = %+v", v)
	}
	// Without experiment: the card's name.
	p, diags = dsl.Load("t.yaml", []byte(exHead+"  a:\n    variants: [{name: one, goto: x}, {name: two, goto: y}]\n"+exTail))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if x := p.Cards[0].Experiment; x.Name != "a" || x.Total != 2 {
		t.Errorf("default experiment = %+v", x)
	}
}

// TestExperimentBetweenPlaybooks: two whole playbooks are compared by a
// small playbook (the one with the trigger) whose variants each include
// one of them.
func TestExperimentBetweenPlaybooks(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"pricing-ab.yaml": `playbook: pricing-ab
trigger: {pages: ["/pricing"]}
cards:
  split:
    experiment: pricing-bot
    variants:
      - {name: classic, goto: classic}
      - {name: quiz, goto: quiz}
  classic:
    include: pricing-classic
    goto: done
  quiz:
    include: pricing-quiz
  done:
    end: true
`,
		"pricing-classic.yaml": "playbook: pricing-classic\ncards:\n  hi:\n    say: Here are our plans.\n    end: shown\n",
		"pricing-quiz.yaml":    "playbook: pricing-quiz\ncards:\n  hi:\n    ask: How big is your team?\n    choices: [Small, Large]\n  bye:\n    end: quizzed\n",
	})
	set, diags := dsl.LoadPaths(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p := set.ByID["pricing-ab"]
	x := p.Cards[0].Experiment
	if x == nil || x.Name != "pricing-bot" || len(x.Variants) != 2 {
		t.Fatalf("experiment %+v", x)
	}
	for i, want := range []string{"classic", "quiz"} {
		if c := p.Cards[x.Variants[i].Goto]; c.Name != want || c.Include == "" {
			t.Errorf("variant %d goes to %s (include %q)", i, c.Name, c.Include)
		}
	}
}
