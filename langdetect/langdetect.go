// Package langdetect holds the one rule that picks a playbook's locale
// from the visitor's first message, shared by serve (package
// conversation), `playbook test` and `playbook chat` (package playtest).
package langdetect

import (
	"strings"
	"unicode"

	"github.com/abadojack/whatlanggo"

	"github.com/playbook-dev/playbook/engine"
)

// The language of the visitor's first message (issue 14): a visitor whose
// browser says English but who writes "Hola, necesito ayuda" gets the
// playbook's Spanish texts, when it has them. The browser's locale stays
// the default: the message only moves the session when the detector is
// sure, the text has two words or more, and the language is one of the
// playbook's locales.

// minDetectWords is the fewest words a message needs before its language
// is guessed: one word ("Hola", "OK", "Gracias") is too ambiguous.
const minDetectWords = 2

// isoToLang maps ISO 639-1 codes to the detector's languages.
var isoToLang = func() map[string]whatlanggo.Lang {
	m := map[string]whatlanggo.Lang{}
	for l := range whatlanggo.Langs {
		if c := l.Iso6391(); c != "" {
			m[c] = l
		}
	}
	return m
}()

// OnFirstMessage moves sess to the locale of p that ev, the visitor's
// first typed message (first: none came before it), is written in, when
// Detect is sure; any other event, or a later message, changes nothing.
// Called before engine.Step, so the answer is already in that locale.
func OnFirstMessage(p *engine.Program, sess *engine.Session, ev engine.Event, first bool) {
	if sess == nil || !first || ev.Kind != engine.EventText {
		return
	}
	if loc := Detect(p, ev.Text); loc != "" {
		sess.Locale = loc
	}
}

// Detect returns the locale of p that text is written in, or "" when
// p has one locale, text is shorter than two words, or the detector
// (restricted to p's locales) is not sure.
func Detect(p *engine.Program, text string) string {
	if len(p.Locales) < 2 || countWords(text) < minDetectWords {
		return ""
	}
	white := map[whatlanggo.Lang]bool{}
	byLang := map[whatlanggo.Lang]string{}
	for _, loc := range p.Locales {
		base := strings.ToLower(strings.SplitN(strings.SplitN(loc, "-", 2)[0], "_", 2)[0])
		if l, ok := isoToLang[base]; ok {
			white[l] = true
			if _, seen := byLang[l]; !seen {
				byLang[l] = loc
			}
		}
	}
	if len(white) < 2 {
		return ""
	}
	info := whatlanggo.DetectWithOptions(text, whatlanggo.Options{Whitelist: white})
	if !info.IsReliable() {
		return ""
	}
	return byLang[info.Lang]
}

// countWords counts runs of letters.
func countWords(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if !in {
				n++
			}
			in = true
		} else {
			in = false
		}
	}
	return n
}
