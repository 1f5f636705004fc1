package playtest

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/engine"
)

const countryBook = `playbook: country
vars:
  country: string
  topic: string
cards:
  where:
    ask: Where are you based?
    choices:
      - {label: Germany, synonyms: [Berlin, DE], goto: thanks}
      - {label: France, synonyms: [Paris, FR], goto: thanks}
    save: country
    other: thanks
  thanks:
    say: "Noted: {{ country }}."
  faq:
    ask: What can I help with?
    intents:
      - {name: pricing, examples: [how much does it cost, pricing], goto: price}
      - {name: refund, examples: [I want my money back, refund], goto: refund}
    save: topic
    retry: {max: 2, say: Sorry?, then: human}
  price:
    say: It costs 10 EUR.
    end: price
  refund:
    say: Refunds take 5 days.
    end: refund
  human:
    say: Let me find a person.
    end: human
`

// fakeClassifier stands in for a language-model classifier: it answers
// from a table and records what it was asked.
type fakeClassifier struct {
	answers map[string]engine.IntentGuess
	asked   []string
}

func (f *fakeClassifier) MatchIntent(text, locale string, intents []*engine.Intent) engine.IntentGuess {
	f.asked = append(f.asked, locale+":"+text)
	return f.answers[text]
}

func TestFreeText(t *testing.T) {
	p := load(t, countryBook)
	for _, tc := range []struct{ name, script, country, outcome string }{
		{"a synonym among other words", `[{visitor: "we are near Berlin"}, {bot: "Noted: Germany."}]`, "Germany", ""},
		{"two choices named is no choice: other keeps the text", `[{visitor: "Berlin or Paris"}, {bot: "Noted: Berlin or Paris."}]`, "Berlin or Paris", ""},
		{"a country not listed", `[{visitor: Luxembourg}, {bot: "Noted: Luxembourg."}]`, "Luxembourg", ""},
		{"the label still wins", `[{visitor: france}, {bot: "Noted: France."}]`, "France", ""},
		{"retry exhaustion at an intent card", `[{click: Germany}, {visitor: weather?}, {intent: none}, {bot: Sorry?}, {visitor: snow?}, {bot: Let me find a person.}]`, "Germany", "human"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			test := parseOne(t, "tests:\n  - name: x\n    script: "+tc.script+"\n")
			r := Run(p, test)
			if !r.Passed() {
				t.Fatalf("%v\n%s", r.Failure, strings.Join(r.Transcript, "\n"))
			}
			if r.Edges == nil || len(r.Edges) == 0 {
				t.Errorf("no edge recorded")
			}
		})
	}
}

func TestRunWithAClassifier(t *testing.T) {
	p := load(t, countryBook)
	fake := &fakeClassifier{answers: map[string]engine.IntentGuess{
		"can I get a discount?": {Name: "pricing", Confidence: 0.93},
	}}
	test := parseOne(t, `tests:
  - name: the classifier decides
    script:
      - click: France
      - visitor: can I get a discount?
      - intent: pricing
      - bot: It costs 10 EUR.
    expect: {outcome: price, vars: {topic: pricing}}
`)
	if r := RunWith(p, test, fake); !r.Passed() {
		t.Fatalf("%v\n%s", r.Failure, strings.Join(r.Transcript, "\n"))
	}
	if len(fake.asked) != 1 || fake.asked[0] != "en:can I get a discount?" {
		t.Errorf("the classifier was asked %q, want once about the discount", fake.asked)
	}
	// The built-in matcher does not see pricing in it: the same test fails.
	r := Run(p, test)
	if r.Passed() || !strings.Contains(r.Failure.Summary, "another intent") {
		t.Errorf("built-in matcher: %v, want the intent step to fail", r.Failure)
	}
}

// A bot line may skip earlier messages of the turn, but never goes back.
func TestBotLinesSkipForward(t *testing.T) {
	p := load(t, salesBook)
	pass := parseOne(t, "tests:\n  - name: x\n    script:\n      - bot: /brings you/\n      - click: Just browsing\n")
	if r := Run(p, pass); !r.Passed() {
		t.Errorf("skipping the first bubble: %v", r.Failure)
	}
	back := parseOne(t, "tests:\n  - name: x\n    script:\n      - bot: /brings you/\n      - bot: Hi there!\n")
	r := Run(p, back)
	if r.Passed() || r.Failure.Summary != "the bot said nothing more" {
		t.Errorf("going back to an earlier bubble passed or failed oddly: %+v", r.Failure)
	}
}
