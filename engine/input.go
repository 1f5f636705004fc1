package engine

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ParseInput reads raw as an answer to a question of input type t, exactly
// as Step does. locale (the session's) decides ambiguous forms: "1.500" is
// 1500 in German and 1.5 in English, "03/04/2026" is March 4 in English and
// April 3 elsewhere. now anchors "today" and "tomorrow" and dates without a
// year. The value's Go type is that of the matching var type: string for
// text, email, phone and url (url with https:// added when missing), float64 for number, int for int, bool for
// yes_no, time.Time at midnight UTC for date. ok is false when raw is not a
// valid answer. InputChoice needs the choices and is answered by Step; here
// it reads as text.
func ParseInput(t InputType, raw, locale string, now time.Time) (v any, ok bool) {
	return parseInput(t, raw, locale, now)
}

// maxAnswer is the longest answer, in bytes, read as anything but text:
// no email, number or date is longer, and it bounds the work per message.
const maxAnswer = 1000

func parseInput(t InputType, raw, locale string, now time.Time) (any, bool) {
	if len(raw) > maxAnswer && t != InputText && t != "" && t != InputChoice {
		return nil, false
	}
	switch t {
	case InputEmail:
		if s, ok := parseEmail(raw); ok {
			return s, true
		}
	case InputPhone:
		if s, ok := parsePhone(raw); ok {
			return s, true
		}
	case InputNumber:
		if f, ok := parseNumber(raw, locale); ok {
			return f, true
		}
	case InputInt:
		if f, ok := parseNumber(raw, locale); ok && f == float64(int64(f)) && f <= maxExactInt && f >= -maxExactInt {
			return int(f), true
		}
	case InputDate:
		if d, ok := parseDate(raw, locale, now); ok {
			return d, true
		}
	case InputURL:
		if s, ok := parseURL(raw); ok {
			return s, true
		}
	case InputYesNo:
		if b, ok := parseYesNo(raw); ok {
			return b, true
		}
	case InputTime:
		if s, ok := parseTime(raw); ok {
			return s, true
		}
	default: // text, choice
		if s := strings.TrimSpace(raw); s != "" {
			return s, true
		}
	}
	return nil, false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseEmail accepts "ana@acme.io", also wrapped as "<ana@acme.io>" or
// "mailto:ana@acme.io" or followed by a full stop. The domain needs a dot
// and a top-level domain of two letters or more. The address keeps the
// visitor's spelling (case included); the CRM compares emails without case.
func parseEmail(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if len(s) > 7 && strings.EqualFold(s[:7], "mailto:") {
		s = s[7:]
	}
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	s = strings.TrimRight(s, ".")
	if len(s) > 254 {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at > 64 || at == len(s)-1 {
		return "", false
	}
	local, domain := s[:at], s[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, "..") {
		return "", false
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c <= ' ' || c == 0x7f || strings.IndexByte("\"(),:;<>@[\\]", c) >= 0 {
			return "", false
		}
	}
	if !validDomain(domain) {
		return "", false
	}
	return s, true
}

// validDomain reports whether host is a domain name with at least two
// labels and a top-level domain of two or more characters, not all digits.
func validDomain(host string) bool {
	if len(host) > 253 || host == "" {
		return false
	}
	labels := 0
	start := 0
	for i := 0; i <= len(host); i++ {
		if i < len(host) && host[i] != '.' {
			c := host[i]
			if !(c >= 0x80 || c == '-' || isDigit(c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')) {
				return false
			}
			continue
		}
		label := host[start:i]
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		labels++
		if i == len(host) { // the top-level domain
			if labels < 2 || utf8.RuneCountInString(label) < 2 {
				return false
			}
			digits := true
			for j := 0; j < len(label); j++ {
				if !isDigit(label[j]) {
					digits = false
				}
			}
			if digits {
				return false
			}
		}
		start = i + 1
	}
	return true
}

// parsePhone accepts 7 to 15 digits with an optional leading + (or 00), and
// spaces, dashes, dots, slashes and parentheses between them. It returns the
// number as typed, trimmed, with runs of spaces collapsed.
func parsePhone(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	digits, spaces := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digits++
		case c == '+':
			if i != 0 {
				return "", false
			}
		case c == ' ':
			if i > 0 && s[i-1] == ' ' {
				spaces = true
			}
		case c == '-' || c == '.' || c == '(' || c == ')' || c == '/':
		default:
			return "", false
		}
	}
	max := 15
	if strings.HasPrefix(s, "00") {
		max = 17
	}
	if digits < 7 || digits > max {
		return "", false
	}
	if spaces {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s, true
}

// parseURL accepts a web address, adding https:// when no scheme is given
// ("acme.io/pricing" → "https://acme.io/pricing"). The scheme must be http
// or https and the host a domain name, an IP address or localhost.
func parseURL(raw string) (string, bool) {
	s := strings.TrimSpace(raw)
	if len(s) >= 2 && s[0] == '<' && s[len(s)-1] == '>' {
		s = s[1 : len(s)-1]
	}
	s = strings.TrimRight(s, ".,;!?")
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return "", false
	}
	if !strings.Contains(s, "://") {
		if strings.Contains(s, "@") && !strings.Contains(s, "/") { // an email, not a web address
			return "", false
		}
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.User != nil {
		return "", false
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "https" && scheme != "http" {
		return "", false
	}
	host := u.Hostname()
	if host == "" {
		return "", false
	}
	if !strings.EqualFold(host, "localhost") && !validDomain(host) {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", false
		}
	}
	return s, true
}

// commaDecimal lists languages that write 2,5 for two and a half and
// 1.500 for fifteen hundred.
var commaDecimal = map[string]bool{
	"es": true, "fr": true, "de": true, "pt": true, "it": true, "nl": true, "ru": true, "pl": true,
	"tr": true, "sv": true, "da": true, "nb": true, "nn": true, "no": true, "fi": true, "cs": true,
	"sk": true, "hu": true, "ro": true, "bg": true, "el": true, "uk": true, "id": true, "ca": true,
}

// currencies are currency symbols, codes and words allowed around a number.
var currencies = map[string]bool{
	"$": true, "€": true, "£": true, "¥": true, "₹": true, "₩": true, "₽": true, "₺": true, "₪": true,
	"us$": true, "ca$": true, "c$": true, "a$": true, "au$": true, "nz$": true, "r$": true, "mx$": true, "hk$": true, "s$": true,
	"usd": true, "eur": true, "gbp": true, "jpy": true, "cad": true, "aud": true, "nzd": true, "chf": true,
	"mxn": true, "brl": true, "ars": true, "clp": true, "cop": true, "pen": true, "inr": true, "cny": true,
	"sek": true, "nok": true, "dkk": true, "pln": true, "czk": true, "huf": true, "zar": true, "sgd": true, "hkd": true,
	"dollar": true, "dollars": true, "buck": true, "bucks": true, "euro": true, "euros": true, "pound": true,
	"pounds": true, "dolar": true, "dolares": true, "peso": true, "pesos": true, "franc": true, "francs": true,
	"franken": true, "fr": true, "sfr": true, "yen": true, "rupees": true,
}

// numberFillers are words allowed before or after a number in an amount:
// "about 2500", "2500 per month".
var numberFillers = map[string]bool{
	"~": true, "about": true, "around": true, "approx": true, "approximately": true, "roughly": true,
	"circa": true, "ca": true, "maybe": true, "unos": true, "unas": true, "alrededor": true, "de": true,
	"environ": true, "etwa": true, "ungefahr": true, "rund": true, "per": true, "a": true,
	"month": true, "monthly": true, "mo": true, "/mo": true, "/month": true, "al": true, "mes": true,
	"mensual": true, "mensuales": true, "par": true, "mois": true, "pro": true, "monat": true, "im": true,
	"monatlich": true, "usd/mo": true,
}

// multipliers are suffixes that scale a number: "1.5k", "2 million".
var multipliers = []struct {
	word string
	f    float64
}{
	{"thousand", 1e3}, {"tausend", 1e3}, {"mille", 1e3}, {"grand", 1e3}, {"mil", 1e3}, {"k", 1e3},
	{"millones", 1e6}, {"millionen", 1e6}, {"millions", 1e6}, {"million", 1e6}, {"millon", 1e6},
	{"mio", 1e6}, {"mn", 1e6}, {"mm", 1e6}, {"m", 1e6},
	{"billion", 1e9}, {"bn", 1e9}, {"b", 1e9},
}

// parseNumber reads an amount as people type it: "2500", "2,500",
// "$2500", "2500 USD", "1.5k", "€2.500,50", "about 3 million dollars",
// "-4".
func parseNumber(raw, locale string) (float64, bool) {
	s := strings.TrimSpace(raw)
	start := -1
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			start = i
			break
		}
	}
	if start < 0 {
		return 0, false
	}
	// a leading separator belongs to the number: ".5"
	if start > 0 && (s[start-1] == '.' || s[start-1] == ',') {
		start--
	}
	end := start
scan:
	for end < len(s) {
		c := s[end]
		switch {
		case isDigit(c) || c == '.' || c == ',' || c == '\'' || c == '_':
			end++
		case c == ' ' && end > start && isDigit(s[end-1]) && groupOf3(s, end+1):
			end++ // "2 500"
		case strings.HasPrefix(s[end:], "\u00a0") && end > start && isDigit(s[end-1]) && groupOf3(s, end+2):
			end += 2
		case strings.HasPrefix(s[end:], "\u202f") && end > start && isDigit(s[end-1]) && groupOf3(s, end+3):
			end += 3
		default:
			break scan
		}
	}
	core := strings.TrimRight(s[start:end], ".,'_")
	neg := false
	if pre := s[:start]; pre != "" {
		for _, tok := range strings.Fields(NormalizeLabel(pre)) {
			for len(tok) > 0 && (tok[0] == '-' || tok[0] == '+' || tok[len(tok)-1] == '-' || tok[len(tok)-1] == '+') {
				if tok[0] == '-' || tok[len(tok)-1] == '-' {
					neg = !neg
				}
				if tok[0] == '-' || tok[0] == '+' {
					tok = tok[1:]
				} else {
					tok = tok[:len(tok)-1]
				}
			}
			if tok != "" && !currencies[tok] && !numberFillers[tok] {
				return 0, false
			}
		}
	}
	mult := 1.0
	if suf := s[end:]; suf != "" {
		// a trailing separator ("2500.") was cut from core: keep it out
		toks := strings.Fields(strings.TrimLeft(NormalizeLabel(strings.TrimLeft(suf, ".,")), ".,"))
		for i, tok := range toks {
			tok = strings.TrimRight(tok, ".,!?")
			if i == 0 {
				if f, rest, ok := cutMultiplier(tok); ok {
					mult = f
					tok = rest
				}
			}
			if tok != "" && !currencies[tok] && !numberFillers[tok] {
				return 0, false
			}
		}
	}
	f, ok := parseDecimal(core, locale)
	if !ok {
		return 0, false
	}
	f *= mult
	if neg {
		f = -f
	}
	return f, true
}

// cutMultiplier strips a multiplier from the front of tok when what is left
// is empty or a currency ("k", "k$", "mil").
func cutMultiplier(tok string) (float64, string, bool) {
	for _, m := range multipliers {
		if rest, ok := strings.CutPrefix(tok, m.word); ok && (rest == "" || currencies[rest]) {
			return m.f, rest, true
		}
	}
	return 0, tok, false
}

// groupOf3 reports whether s has exactly three digits at i and no digit
// after them.
func groupOf3(s string, i int) bool {
	return i+3 <= len(s) && isDigit(s[i]) && isDigit(s[i+1]) && isDigit(s[i+2]) && (i+3 == len(s) || !isDigit(s[i+3]))
}

// parseDecimal reads digits with thousands and decimal separators.
func parseDecimal(core, locale string) (float64, bool) {
	simple := true
	dots, commas := 0, 0
	for i := 0; i < len(core); i++ {
		switch c := core[i]; {
		case c == '.':
			dots++
		case c == ',':
			commas++
			simple = false
		case !isDigit(c):
			simple = false
		}
	}
	if simple && dots <= 1 && !(dots == 1 && commaDecimal[langOf(locale)] && thousandsGroups(core, '.')) {
		f, err := strconv.ParseFloat(core, 64)
		return f, err == nil
	}
	var buf [64]byte
	b := buf[:0]
	var dec byte // the decimal separator, 0 if none
	switch {
	case dots > 0 && commas > 0:
		dec = '.'
		if strings.LastIndexByte(core, ',') > strings.LastIndexByte(core, '.') {
			dec = ','
		}
		if strings.Count(core, string(dec)) != 1 {
			return 0, false
		}
	case commas > 0:
		if !thousandsGroups(core, ',') {
			if commas != 1 {
				return 0, false
			}
			dec = ','
		}
	case dots > 1:
		if !thousandsGroups(core, '.') {
			return 0, false
		}
	case dots == 1:
		if !(commaDecimal[langOf(locale)] && thousandsGroups(core, '.')) {
			dec = '.'
		}
	}
	for i := 0; i < len(core); i++ {
		switch c := core[i]; {
		case isDigit(c):
			b = append(b, c)
		case c == dec:
			b = append(b, '.')
		case c == '.' || c == ',' || c == '\'' || c == '_' || c == ' ':
			// a thousands separator
		case c >= 0x80: // the bytes of a no-break space
		default:
			return 0, false
		}
		if len(b) == len(buf) {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// thousandsGroups reports whether sep splits core into a first group of one
// to three digits and further groups of exactly three.
func thousandsGroups(core string, sep byte) bool {
	first := strings.IndexByte(core, sep)
	if first < 1 || first > 3 {
		return false
	}
	for rest := core[first+1:]; ; {
		i := strings.IndexByte(rest, sep)
		if i < 0 {
			return len(rest) == 3
		}
		if i != 3 {
			return false
		}
		rest = rest[i+1:]
	}
}

// months maps month names and abbreviations (folded, in English, Spanish,
// French and German) to months; a word of three letters or more that
// starts one of them names it.
var months = []struct {
	name string
	m    time.Month
}{
	{"january", 1}, {"enero", 1}, {"janvier", 1}, {"januar", 1},
	{"february", 2}, {"febrero", 2}, {"fevrier", 2}, {"februar", 2},
	{"march", 3}, {"marzo", 3}, {"mars", 3}, {"marz", 3},
	{"april", 4}, {"abril", 4}, {"avril", 4},
	{"may", 5}, {"mayo", 5}, {"mai", 5},
	{"june", 6}, {"junio", 6}, {"juin", 6}, {"juni", 6},
	{"july", 7}, {"julio", 7}, {"juillet", 7}, {"juli", 7},
	{"august", 8}, {"agosto", 8}, {"aout", 8},
	{"september", 9}, {"septiembre", 9}, {"setiembre", 9}, {"septembre", 9},
	{"october", 10}, {"octubre", 10}, {"octobre", 10}, {"oktober", 10},
	{"november", 11}, {"noviembre", 11}, {"novembre", 11},
	{"december", 12}, {"diciembre", 12}, {"decembre", 12}, {"dezember", 12},
}

// relativeDays are words for days near today.
var relativeDays = map[string]int{
	"today": 0, "hoy": 0, "aujourd'hui": 0, "aujourdhui": 0, "heute": 0,
	"tomorrow": 1, "manana": 1, "demain": 1, "morgen": 1,
	"yesterday": -1, "ayer": -1, "hier": -1, "gestern": -1,
	"day after tomorrow": 2, "the day after tomorrow": 2, "pasado manana": 2, "apres-demain": 2, "apres demain": 2, "ubermorgen": 2,
	"hoje": 0, "amanha": 1, "ontem": -1, "depois de amanha": 2, // pt
	"oggi": 0, "domani": 1, "ieri": -1, "dopodomani": 2, // it
	"vandaag": 0, "gisteren": -1, "overmorgen": 2, // nl ("morgen" as in de)
}

// nextWords may come before a weekday: "next monday", "nächsten Montag".
var nextWords = map[string]bool{
	"next": true, "this": true, "on": true, "el": true, "proximo": true, "proxima": true, "prochain": true, "ce": true,
	"nachsten": true, "nachster": true, "am": true, "kommenden": true, "prossimo": true, "prossima": true, "volgende": true, "a": true,
}

// weekdayOf returns the weekday named by word in any date language.
func weekdayOf(word string) (time.Weekday, bool) {
	for _, dl := range dateLangs {
		for i, name := range dl.weekdays {
			if n := NormalizeLabel(name); n == word || strings.TrimSuffix(n, "-feira") == word {
				return time.Weekday(i), true
			}
		}
	}
	return 0, false
}

// nextWeekday reads "monday", "next Monday", "lunes", "nächsten Montag":
// the next such day after today.
func nextWeekday(key string, now time.Time) (time.Time, bool) {
	words := strings.Fields(key)
	for len(words) > 1 && nextWords[words[0]] {
		words = words[1:]
	}
	if len(words) != 1 {
		return time.Time{}, false
	}
	wd, ok := weekdayOf(words[0])
	if !ok {
		return time.Time{}, false
	}
	today := dateOf(now)
	n := (int(wd) - int(today.Weekday()) + 7) % 7
	if n == 0 {
		n = 7
	}
	return today.AddDate(0, 0, n), true
}

var dateFillers = map[string]bool{
	"de": true, "del": true, "of": true, "the": true, "on": true, "le": true, "el": true, "am": true, "den": true,
}

// parseDate reads a date: ISO 2026-03-01 (or an RFC 3339 time), numeric
// 3/1/2026 (month first in English, day first elsewhere, unless that cannot
// be), 01.03.2026, month names ("March 1, 2026", "1 mars 2026", "1. März"),
// and today, tomorrow and yesterday in English, Spanish, French and German.
// A date without a year is in now's year. The result is midnight UTC.
func parseDate(raw, locale string, now time.Time) (time.Time, bool) {
	if d, ok := parseISODate(raw); ok {
		return d, true
	}
	key := NormalizeLabel(raw)
	if n, ok := relativeDays[key]; ok && !now.IsZero() {
		return dateOf(now).AddDate(0, 0, n), true
	}
	if !now.IsZero() {
		if d, ok := nextWeekday(key, now); ok {
			return d, true
		}
	}
	year := 0
	if !now.IsZero() {
		year = now.Year()
	}
	// numeric forms
	if key != "" && isDigit(key[0]) && strings.IndexFunc(key, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '/' || r == '.' || r == '-')
	}) < 0 {
		parts := strings.FieldsFunc(key, func(r rune) bool { return r == '/' || r == '.' || r == '-' })
		if len(parts) < 2 || len(parts) > 3 {
			return time.Time{}, false
		}
		n := make([]int, len(parts))
		for i, p := range parts {
			v, err := strconv.Atoi(p)
			if err != nil {
				return time.Time{}, false
			}
			n[i] = v
		}
		var y, m, d int
		switch {
		case len(parts[0]) == 4 && len(parts) == 3:
			y, m, d = n[0], n[1], n[2]
		case monthFirst(locale) && n[0] <= 12 || n[1] > 12:
			m, d = n[0], n[1]
		default:
			d, m = n[0], n[1]
		}
		if len(parts) == 3 && len(parts[0]) != 4 {
			y = n[2]
			switch {
			case len(parts[2]) == 2:
				y += 2000
			case len(parts[2]) != 4:
				return time.Time{}, false
			}
		} else if len(parts) == 2 {
			y = year
		}
		return makeDate(y, m, d)
	}
	// month names
	var y, m, d int
	for _, tok := range strings.FieldsFunc(key, func(r rune) bool { return r == ' ' || r == ',' || r == '/' }) {
		tok = strings.TrimSuffix(tok, ".")
		if tok == "" || dateFillers[tok] {
			continue
		}
		if isDigit(tok[0]) {
			digits := tok
			for _, suf := range []string{"st", "nd", "rd", "th", "er", "eme", "o", "a"} {
				if t, ok := strings.CutSuffix(tok, suf); ok {
					digits = t
					break
				}
			}
			v, err := strconv.Atoi(digits)
			switch {
			case err != nil:
				return time.Time{}, false
			case len(digits) == 4 && y == 0:
				y = v
			case len(digits) <= 2 && d == 0:
				d = v
			default:
				return time.Time{}, false
			}
			continue
		}
		mm := monthOf(tok)
		if mm == 0 || m != 0 {
			return time.Time{}, false
		}
		m = int(mm)
	}
	if m == 0 || d == 0 {
		return time.Time{}, false
	}
	if y == 0 {
		y = year
	}
	return makeDate(y, m, d)
}

// monthFirst reports whether numeric dates put the month first in locale:
// in English (and with no locale at all).
func monthFirst(locale string) bool {
	lang := langOf(locale)
	return lang == "" || strings.EqualFold(lang, "en")
}

func monthOf(tok string) time.Month {
	if len(tok) < 3 {
		return 0
	}
	for _, mo := range months {
		if strings.HasPrefix(mo.name, tok) {
			return mo.m
		}
	}
	return 0
}

// makeDate returns the date when it exists (no February 30).
func makeDate(y, m, d int) (time.Time, bool) {
	if y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Day() != d {
		return time.Time{}, false
	}
	return t, true
}
