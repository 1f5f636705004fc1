package engine

import (
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// localeKey is a choice label folded by NormalizeLabel, with its locale.
type localeKey struct {
	locale, key string
}

// prepare precomputes what Step needs per program: the folded labels and
// values of every choice, so matching free text allocates nothing.
func (p *Program) prepare() {
	for _, c := range p.Cards {
		if c == nil || c.Ask == nil {
			continue
		}
		for _, in := range c.Ask.Intents {
			if in != nil {
				in.examples = nil
				in.examples = in.prepared()
			}
		}
		for _, ch := range c.Ask.Choices {
			if ch == nil {
				continue
			}
			ch.keys = ch.keys[:0]
			ch.synKeys = ch.synKeys[:0]
			for _, loc := range sortedKeys(ch.Synonyms) {
				for _, w := range ch.Synonyms[loc] {
					if k := NormalizeLabel(w); k != "" {
						ch.synKeys = append(ch.synKeys, localeKey{loc, k})
					}
				}
			}
			ch.valueKey = NormalizeLabel(ch.Value)
			if ch.Label == nil {
				continue
			}
			add := func(loc string) {
				tm := ch.Label.ByLocale[loc]
				if tm == nil || !tm.IsStatic {
					return
				}
				for _, k := range ch.keys {
					if k.locale == loc {
						return
					}
				}
				ch.keys = append(ch.keys, localeKey{loc, NormalizeLabel(tm.Static)})
			}
			for _, loc := range p.Locales {
				add(loc)
			}
			add(p.Locale)
			for loc := range ch.Label.ByLocale {
				add(loc)
			}
		}
	}
}

// folded is a visitor's answer ready for comparing with folded keys: ASCII
// text is compared in place, other text is folded once.
type folded struct {
	raw    string
	ascii  bool
	folded string
}

func newFolded(raw string) folded {
	if isPlainASCII(raw) {
		return folded{raw: raw, ascii: true}
	}
	return folded{raw: raw, folded: NormalizeLabel(raw)}
}

// is reports whether the answer folds to key.
func (f *folded) is(key string) bool {
	if !f.ascii {
		return f.folded == key
	}
	return asciiFoldEqual(f.raw, key)
}

// asciiFoldEqual reports whether NormalizeLabel(raw) == key for ASCII raw,
// without allocating.
func asciiFoldEqual(raw, key string) bool {
	i, j := 0, len(raw)
	for i < j && asciiTrim(raw[i]) {
		i++
	}
	for j > i && asciiTrim(raw[j-1]) {
		j--
	}
	k := 0
	space := false
	for ; i < j; i++ {
		c := raw[i]
		if asciiSpace(c) {
			space = true
			continue
		}
		if space {
			if k >= len(key) || key[k] != ' ' {
				return false
			}
			k++
			space = false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if k >= len(key) || key[k] != c {
			return false
		}
		k++
	}
	return k == len(key)
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func asciiTrim(c byte) bool { return asciiSpace(c) || c == '.' || c == '!' || c == '?' }

// matchChoice finds the choice an answer names. A button names its value
// exactly. Free text matches a label folded (case, accents and spaces
// ignored) in the session's locale first, then in any locale, then a value;
// "2" picks the second choice when nothing else matches.
func (r *runner) matchChoice(a *Ask, raw string, button bool) *Choice {
	if button {
		for _, ch := range a.Choices {
			if ch.Value == raw {
				return ch
			}
		}
	}
	f := newFolded(raw)
	loc := r.s.Locale
	for _, ch := range a.Choices {
		found := false
		for _, k := range ch.keys {
			if k.locale == loc {
				found = true
				if f.is(k.key) {
					return ch
				}
			}
		}
		if !found && ch.Label != nil {
			// a label with holes, or none in this locale: render it
			if tm, _ := r.pick(ch.Label); tm != nil && !tm.IsStatic {
				if txt, ok := r.render(r.current(), tm); ok && f.is(NormalizeLabel(txt)) {
					return ch
				}
				if r.s.Status == StatusFailed {
					return nil
				}
			}
		}
	}
	for _, ch := range a.Choices {
		for _, k := range ch.keys {
			if f.is(k.key) {
				return ch
			}
		}
	}
	for _, ch := range a.Choices {
		if f.is(ch.valueKey) {
			return ch
		}
	}
	s := strings.TrimSpace(raw)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "#"), ".")
	if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(a.Choices) {
		return a.Choices[n-1]
	}
	return matchSynonym(a, raw, loc)
}

// matchSynonym finds the choice one of whose synonyms the answer is, or
// has among its words: the session's locale first, then any. When the
// words of two choices are in the answer, it picks none.
func matchSynonym(a *Ask, raw, loc string) *Choice {
	has := false
	for _, ch := range a.Choices {
		has = has || len(ch.synKeys) > 0
	}
	if !has {
		return nil
	}
	f := NormalizeLabel(raw)
	padded := " " + wordsOnly(f) + " "
	for _, any := range []bool{false, true} {
		var found *Choice
		for _, ch := range a.Choices {
			for _, k := range ch.synKeys {
				if !any && k.locale != loc && k.locale != "" {
					continue
				}
				if f == k.key {
					return ch
				}
				if strings.Contains(padded, " "+wordsOnly(k.key)+" ") {
					if found != nil && found != ch {
						return nil // two choices named: ask again
					}
					found = ch
				}
			}
		}
		if found != nil {
			return found
		}
	}
	return nil
}

// wordsOnly replaces punctuation with spaces and collapses runs of them.
func wordsOnly(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }), " ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
