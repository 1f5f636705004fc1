package dsl_test

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// TestFreeTextChecks pins the diagnostics of synonyms, other and intents
// ("line:col: severity: message"; cards start on line 9 of head).
func TestFreeTextChecks(t *testing.T) {
	tests := []struct{ name, cards, want string }{
		{"other without choices", "  a:\n    ask: Name?\n    save: size\n    other: a\n", "12:5: error: other only works on a question with `choices`"},
		{"other to an unknown card", "  a:\n    say: Pick\n    choices: [x, y]\n    other: elsewhere\n  else:\n    end: x\n", "12:12: error: other: there is no card \"elsewhere\""},
		{"other into a number var", "  a:\n    say: Pick\n    choices: [x, y]\n    other: {save: budget}\n", "12:19: error: budget is a number, but `other` saves the text the visitor typed"},
		{"unknown choice key", "  a:\n    say: Pick\n    choices: [{label: x, synonym: [y]}]\n", "11:26: error: unknown key \"synonym\" in choice (did you mean \"synonyms\"?)"},
		{"synonyms in an undeclared locale", "  a:\n    say: Pick\n    choices: [{label: x, synonyms: {de: [y]}}]\n", "11:37: error: synonyms: \"de\" is not one of the playbook's locales (en)"},
		{"intents and choices", "  a:\n    say: Pick\n    choices: [x]\n    intents: [{name: p, examples: [price]}]\n", "12:5: error: a question takes either `choices` or `intents`, not both"},
		{"intents and input", "  a:\n    ask: Hm?\n    input: email\n    intents: [{name: p, examples: [price]}]\n", "11:5: error: a question takes either `input` or `intents`, not both"},
		{"intent without examples", "  a:\n    ask: Hm?\n    intents: [{name: p}]\n", "11:22: error: intent \"p\" needs `examples:`"},
		{"duplicate intent", "  a:\n    ask: Hm?\n    intents: [{name: p, examples: [a]}, {name: p, examples: [b]}]\n", "11:48: error: duplicate intent \"p\""},
		{"intent goto unknown", "  a:\n    ask: Hm?\n    intents: [{name: p, examples: [a], goto: nowhere}]\n", "11:46: error: goto: there is no card \"nowhere\""},
		{"fallback without intents", "  a:\n    ask: Hm?\n    fallback: a\n", "11:5: error: fallback only works on a question with `intents`"},
		{"min_confidence out of range", "  a:\n    ask: Hm?\n    intents: [{name: p, examples: [a]}]\n    min_confidence: 2\n", "12:21: error: min_confidence must be a number above 0 and at most 1"},
		{"intent saved into a number", "  a:\n    ask: Hm?\n    intents: [{name: p, examples: [a]}]\n    save: budget\n", "12:11: error: save: var \"budget\" is a number, but the answer to this question is a string"},
		{"a good intent card", "  a:\n    ask: Hm?\n    intents: [{name: p, examples: [a], goto: b}]\n    fallback: b\n    min_confidence: 0.7\n    save: size\n  b:\n    end: x\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := dsl.Load("t.yaml", []byte(head+tt.cards))
			var lines []string
			for _, d := range diags {
				lines = append(lines, d.Error())
			}
			all := strings.Join(lines, "\n")
			if tt.want == "" {
				if diags.HasErrors() {
					t.Errorf("unexpected errors:\n%s", all)
				}
				return
			}
			if !strings.Contains(all, "t.yaml:"+tt.want) {
				t.Errorf("want diagnostic\n  t.yaml:%s\ngot:\n  %s", tt.want, strings.ReplaceAll(all, "\n", "\n  "))
			}
		})
	}
}
