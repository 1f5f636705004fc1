package engine

import (
	"strings"
	"unicode"

	"github.com/blevesearch/snowballstem"
	"github.com/blevesearch/snowballstem/arabic"
	"github.com/blevesearch/snowballstem/danish"
	"github.com/blevesearch/snowballstem/dutch"
	"github.com/blevesearch/snowballstem/english"
	"github.com/blevesearch/snowballstem/finnish"
	"github.com/blevesearch/snowballstem/french"
	"github.com/blevesearch/snowballstem/german"
	"github.com/blevesearch/snowballstem/hungarian"
	"github.com/blevesearch/snowballstem/irish"
	"github.com/blevesearch/snowballstem/italian"
	"github.com/blevesearch/snowballstem/norwegian"
	"github.com/blevesearch/snowballstem/portuguese"
	"github.com/blevesearch/snowballstem/romanian"
	"github.com/blevesearch/snowballstem/russian"
	"github.com/blevesearch/snowballstem/spanish"
	"github.com/blevesearch/snowballstem/swedish"
	"github.com/blevesearch/snowballstem/tamil"
	"github.com/blevesearch/snowballstem/turkish"
)

// Intent is one thing a visitor may mean at an intent card, with example
// phrases per locale.
type Intent struct {
	Name string
	// Examples holds example phrases by locale.
	Examples map[string][]string
	Goto     int // card index; -1 = continue with the card's own flow

	// examples are the phrases as tokens, by locale; filled by
	// NewProgram.
	examples map[string][][]token
}

// IntentGuess is what a matcher made of a message: the intent's name ("" for
// none) and how sure it is, from 0 to 1.
type IntentGuess struct {
	Name       string  `json:"name"`
	Confidence float64 `json:"confidence"`
}

// DefaultMinConfidence is how sure the matcher must be before an intent
// card takes an intent, when the card does not say.
const DefaultMinConfidence = 0.5

// IntentMatcher picks the intent a message means. The built-in one
// ([MatchIntent]) folds case and accents, stems words (the 18 languages of
// the Snowball stemmers, German included) and forgives
// small typos. Another one (a language-model classifier, say) runs
// outside Step, which does no I/O: the caller asks it and hands its guess
// to Step in [Event.Intent].
type IntentMatcher interface {
	MatchIntent(text, locale string, intents []*Intent) IntentGuess
}

// BuiltinMatcher is the default [IntentMatcher].
type BuiltinMatcher struct{}

// MatchIntent implements [IntentMatcher] with [MatchIntent].
func (BuiltinMatcher) MatchIntent(text, locale string, intents []*Intent) IntentGuess {
	return MatchIntent(text, locale, intents)
}

// MatchIntent scores text against every example of every intent, in the
// session's locale first and in any locale when that finds nothing, and
// returns the best. The score of one example is the share of words the two
// have in common (each word stemmed; a word within one typo of another
// counts, two typos for words of 8 letters or more), so "pricing" matches
// "what are your prices" less than "prices", and an empty message matches
// nothing. Ties go to the intent listed first.
func MatchIntent(text, locale string, intents []*Intent) IntentGuess {
	lang := stemLang(locale)
	words := tokens(text, lang)
	if len(words) == 0 {
		return IntentGuess{}
	}
	best := IntentGuess{}
	score := func(in *Intent, exs [][]token) {
		for _, ex := range exs {
			if s := similarity(words, ex); s > best.Confidence {
				best = IntentGuess{Name: in.Name, Confidence: s}
			}
		}
	}
	for _, in := range intents {
		score(in, in.prepared()[locale])
	}
	if best.Name == "" {
		// words of another locale's examples, stemmed as that locale's
		for _, in := range intents {
			for loc, exs := range in.prepared() {
				if loc != locale {
					w := tokens(text, stemLang(loc))
					for _, ex := range exs {
						if s := similarity(w, ex); s > best.Confidence {
							best = IntentGuess{Name: in.Name, Confidence: s}
						}
					}
				}
			}
		}
	}
	best.Confidence = float64(int(best.Confidence*100+0.5)) / 100
	return best
}

// prepared returns the examples as stemmed tokens: those NewProgram
// computed, or computed now for an intent built by hand.
func (in *Intent) prepared() map[string][][]token {
	if in.examples != nil {
		return in.examples
	}
	out := make(map[string][][]token, len(in.Examples))
	for loc, exs := range in.Examples {
		lang := stemLang(loc)
		for _, ex := range exs {
			if t := tokens(ex, lang); len(t) > 0 {
				out[loc] = append(out[loc], t)
			}
		}
	}
	return out
}

// similarity is the Dice coefficient of two word lists, where words match
// when equal or within a typo or two.
func similarity(a, b []token) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	used := make([]bool, len(b))
	common := 0.0
	for _, w := range a {
		bestJ, bestS := -1, 0.0
		for j, x := range b {
			if used[j] {
				continue
			}
			if s := wordMatch(w, x); s > bestS {
				bestJ, bestS = j, s
			}
		}
		if bestJ >= 0 {
			used[bestJ] = true
			common += bestS
		}
	}
	return 2 * common / float64(len(a)+len(b))
}

// token is a word of a message or an example: as folded, and its stem.
type token struct{ word, stem string }

// wordMatch is 1 for words with the same stem, 0.8 for words (or stems)
// within the typos allowed for their length, else 0. Both forms count: a
// stemmer leaves "kostet" whole but cuts "kosten" to "kost", one typo
// apart as written.
func wordMatch(a, b token) float64 {
	return max(match(a.stem, b.stem), match(a.word, b.word))
}

func match(a, b string) float64 {
	if a == b {
		return 1
	}
	n := min(len([]rune(a)), len([]rune(b)))
	allowed := 0
	switch {
	case n >= 8:
		allowed = 2
	case n >= 4:
		allowed = 1
	}
	if allowed > 0 && editDistance(a, b, allowed) <= allowed {
		return 0.8
	}
	return 0
}

// editDistance is the Levenshtein distance of a and b, or limit+1 when it
// is larger than limit.
func editDistance(a, b string, limit int) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// tokens folds text (NormalizeLabel), splits it into words at anything that
// is not a letter or digit, drops the language's most common filler words
// and stems the rest.
func tokens(text, lang string) []token {
	f := NormalizeLabel(text)
	words := strings.FieldsFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
	out := make([]token, 0, len(words))
	for _, w := range words {
		if stop[lang][w] {
			continue
		}
		out = append(out, token{w, stem(w, lang)})
	}
	if len(out) == 0 && len(words) > 0 {
		for _, w := range words { // a message of filler words only: keep them
			out = append(out, token{w, w})
		}
	}
	return out
}

// stemLang names the Snowball stemmer for a locale, or "" when there is
// none (its words are then matched unstemmed, typos forgiven).
func stemLang(locale string) string {
	l := strings.ToLower(langOf(locale))
	switch l {
	case "nb", "nn":
		l = "no"
	}
	if _, ok := stemmers[l]; ok {
		return l
	}
	return ""
}

// stemmers are the Snowball stemmers by language code: every language the
// Snowball project has a stemmer for.
var stemmers = map[string]func(*snowballstem.Env) bool{
	"ar": arabic.Stem, "da": danish.Stem, "de": german.Stem, "en": english.Stem,
	"es": spanish.Stem, "fi": finnish.Stem, "fr": french.Stem, "ga": irish.Stem,
	"hu": hungarian.Stem, "it": italian.Stem, "nl": dutch.Stem, "no": norwegian.Stem,
	"pt": portuguese.Stem, "ro": romanian.Stem, "ru": russian.Stem, "sv": swedish.Stem,
	"ta": tamil.Stem, "tr": turkish.Stem,
}

// stem returns w's stem in language lang (a key of stemmers).
func stem(w, lang string) string {
	f := stemmers[lang]
	if f == nil {
		return w
	}
	env := snowballstem.NewEnv(w)
	f(env)
	if s := env.Current(); s != "" {
		return s
	}
	return w
}

// stop holds the filler words dropped before matching, by stemmer language
// (accents folded, as NormalizeLabel leaves them).
var stop = map[string]map[string]bool{
	"en": set("a an the i im i'm me my we our you your is are am be was it its this that to of in on for and or do does can could would should please hi hello hey"),
	"es": set("el la los las un una y o de del en a al por para que es mi me yo tu su hola"),
	"fr": set("le la les un une et ou de du des en a au aux pour que est mon ma mes je tu vous bonjour"),
	"de": set("der die das den dem des ein eine einen einem und oder von zu zum zur im in am an ist ich mein meine mir du dir sie wir hallo bitte"),
}

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}
