package engine

import (
	"testing"
	"time"
)

func intentsFixture() []*Intent {
	return []*Intent{
		{Name: "pricing", Examples: map[string][]string{
			"en": {"how much does it cost", "pricing", "what are your prices"},
			"es": {"cuánto cuesta", "precios"},
		}},
		{Name: "refund", Examples: map[string][]string{
			"en": {"I want my money back", "refund"},
			"de": {"Geld zurück", "Erstattung"},
		}},
	}
}

func TestMatchIntent(t *testing.T) {
	ins := intentsFixture()
	for _, tc := range []struct {
		text, locale, want string
		min                float64 // the confidence must be at least this
	}{
		{"How much does it COST?", "en", "pricing", 1},
		{"prices", "en", "pricing", 0.6}, // stemmed: price
		{"refnd", "en", "refund", 0.5},   // one typo
		{"I would like my money back please", "en", "refund", 0.6},
		{"¿Cuanto cuesta?", "es", "pricing", 1},     // accents folded
		{"Geld zurueck bitte", "de", "refund", 0.4}, // two typos in a long word
		{"refund", "es", "refund", 1},               // no es example: any locale
	} {
		g := MatchIntent(tc.text, tc.locale, ins)
		if g.Name != tc.want || g.Confidence < tc.min {
			t.Errorf("MatchIntent(%q, %s) = %+v, want %s with confidence >= %g", tc.text, tc.locale, g, tc.want, tc.min)
		}
	}
	for _, text := range []string{"", "   ", "?!", "what's the weather like in Paris"} {
		if g := MatchIntent(text, "en", ins); g.Confidence >= DefaultMinConfidence {
			t.Errorf("MatchIntent(%q) = %+v, want no confident intent", text, g)
		}
	}
}

// German words are stemmed like the others: plural and verb forms meet
// their example exactly, where typo forgiveness alone gave 0.8 a word.
func TestMatchIntentGerman(t *testing.T) {
	ins := []*Intent{
		{Name: "invoice", Examples: map[string][]string{"de": {"Rechnung", "meine Rechnung herunterladen"}}},
		{Name: "cancel", Examples: map[string][]string{"de": {"Vertrag kündigen", "Kündigung"}}},
		{Name: "delivery", Examples: map[string][]string{"de": {"Lieferung verfolgen"}}},
		{Name: "pricing", Examples: map[string][]string{"de": {"was kostet das"}}},
	}
	for _, tc := range []struct {
		text, want string
		conf       float64
	}{
		{"Rechnungen", "invoice", 1},
		{"Verträge kündigen", "cancel", 1},
		{"Ich will kündigen", "cancel", 0.67}, // will and kundig: one of two words
		{"Lieferungen verfolgen", "delivery", 1},
		// the stemmer cuts kosten to kost but leaves kostet: the words as
		// written are still one typo apart
		{"Was kosten eure Pläne?", "pricing", 0.6},
	} {
		g := MatchIntent(tc.text, "de", ins)
		if g.Name != tc.want || g.Confidence != tc.conf {
			t.Errorf("MatchIntent(%q, de) = %+v, want %s with confidence %g", tc.text, g, tc.want, tc.conf)
		}
	}
	if got := stemLang("de-AT"); got != "de" {
		t.Errorf("stemLang(de-AT) = %q", got)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"refund", "refund", 1, 0}, {"refnd", "refund", 1, 1}, {"kitten", "sitting", 3, 3},
		{"kitten", "sitting", 1, 2}, {"a", "abcdef", 2, 3}, {"zurück", "zurueck", 2, 2},
	} {
		if got := editDistance(tc.a, tc.b, tc.limit); got != tc.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", tc.a, tc.b, tc.limit, got, tc.want)
		}
	}
}

// An intent card steps with the caller's guess when the event brings one
// (a language-model classifier outside Step), and with the built-in
// matcher when it does not.
func TestIntentCardTakesTheCallersGuess(t *testing.T) {
	p := NewProgram(&Program{ID: "faq", Hash: "h", Locale: "en", Locales: []string{"en"},
		Vars: []*VarDecl{{Name: "topic", Type: TypeString}},
		Cards: []*Card{
			{Name: "ask", Next: -1, Ask: &Ask{Prompt: staticText("en", "How can I help?"), Input: InputIntent, Save: "topic",
				Intents: intentsFixture(), Fallback: 3, Retry: Retry{Then: -1}}},
			{Name: "price", Next: -1, HasEnd: true, End: "price"},
			{Name: "refund", Next: -1, HasEnd: true, End: "refund"},
			{Name: "human", Next: -1, HasEnd: true, End: "human"},
		}})
	p.Cards[0].Ask.Intents[0].Goto, p.Cards[0].Ask.Intents[1].Goto = 1, 2
	run := func(text string, guess *IntentGuess) *Session {
		s := NewSession(p, "s", testNow)
		Step(p, s, Event{Kind: EventStart, Now: testNow})
		var edges []Edge
		StepTraced(p, s, Event{Kind: EventText, Text: text, Intent: guess, Now: testNow}, &Trace{Edge: func(e Edge) { edges = append(edges, e) }})
		if len(edges) != 1 {
			t.Errorf("%q: edges %v, want one", text, edges)
		}
		return s
	}
	if s := run("refund", nil); s.Outcome != "refund" || s.Vars["topic"] != "refund" {
		t.Errorf("built-in: outcome %q, topic %v; want refund", s.Outcome, s.Vars["topic"])
	}
	// The fake classifier says pricing whatever the words.
	if s := run("refund", &IntentGuess{Name: "pricing", Confidence: 0.9}); s.Outcome != "price" {
		t.Errorf("caller's guess: outcome %q, want price", s.Outcome)
	}
	// A guess below the bar, or of an intent the card lacks, is the fallback.
	if s := run("refund", &IntentGuess{Name: "refund", Confidence: 0.2}); s.Outcome != "human" {
		t.Errorf("unsure guess: outcome %q, want human", s.Outcome)
	}
	if s := run("refund", &IntentGuess{Name: "weather", Confidence: 1}); s.Outcome != "human" {
		t.Errorf("unknown intent: outcome %q, want human", s.Outcome)
	}
}

var testNow = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

func staticText(loc, s string) *Text {
	return &Text{ByLocale: map[string]*Template{loc: {Static: s, IsStatic: true}}}
}
