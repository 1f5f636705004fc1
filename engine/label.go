package engine

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// NormalizeLabel folds s for matching what a visitor typed against a choice
// label: lower case, accents removed, runs of white space and punctuation at
// the ends trimmed, inner white space collapsed. "  Sí, POR favor! " and
// "si, por favor" fold to the same string. The compiler uses it to find
// duplicate labels, so both sides agree.
func NormalizeLabel(s string) string {
	if isPlainASCII(s) {
		return strings.Join(strings.Fields(strings.ToLower(strings.TrimFunc(s, trimPunct))), " ")
	}
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	folded, _, err := transform.String(t, s)
	if err != nil {
		folded = s
	}
	return strings.Join(strings.Fields(strings.ToLower(strings.TrimFunc(folded, trimPunct))), " ")
}

func trimPunct(r rune) bool {
	return unicode.IsSpace(r) || r == '.' || r == '!' || r == '?' || r == '¡' || r == '¿'
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
