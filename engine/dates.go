package engine

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// dateLang holds what one language needs to read and write dates.
type dateLang struct {
	months   [12]string // full month names, as written in a date
	weekdays [7]string  // Sunday first
	// long writes day, month name and year: "8 January 2026".
	long func(d int, month string, y int) string
	// short writes the numeric date: "1/8/2026", "08.01.2026".
	short func(d, m, y int) string
}

// dateLangs are the languages whose month names, weekdays and relative
// words ("tomorrow") dates are read and written in. Other languages read
// numeric dates and write dates in English.
var dateLangs = map[string]*dateLang{
	"en": {
		months:   [12]string{"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
		weekdays: [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d %s %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%d/%d/%d", m, d, y) },
	},
	"es": {
		months:   [12]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"},
		weekdays: [7]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d de %s de %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%d/%d/%d", d, m, y) },
	},
	"fr": {
		months:   [12]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre", "décembre"},
		weekdays: [7]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d %s %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%02d/%02d/%d", d, m, y) },
	},
	"de": {
		months:   [12]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"},
		weekdays: [7]string{"Sonntag", "Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d. %s %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%02d.%02d.%d", d, m, y) },
	},
	"pt": {
		months:   [12]string{"janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro", "novembro", "dezembro"},
		weekdays: [7]string{"domingo", "segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira", "sábado"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d de %s de %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%02d/%02d/%d", d, m, y) },
	},
	"it": {
		months:   [12]string{"gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"},
		weekdays: [7]string{"domenica", "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d %s %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%02d/%02d/%d", d, m, y) },
	},
	"nl": {
		months:   [12]string{"januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"},
		weekdays: [7]string{"zondag", "maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag"},
		long:     func(d int, m string, y int) string { return fmt.Sprintf("%d %s %d", d, m, y) },
		short:    func(d, m, y int) string { return fmt.Sprintf("%d-%d-%d", d, m, y) },
	},
}

func init() {
	// read month names of every date language ("março", "maart")
	for _, dl := range dateLangs {
		for i, name := range dl.months {
			n := NormalizeLabel(name)
			found := false
			for _, mo := range months {
				found = found || mo.name == n
			}
			if !found {
				months = append(months, struct {
					name string
					m    time.Month
				}{n, time.Month(i + 1)})
			}
		}
	}
}

// DateLanguages reports whether dates typed in locale's language are read
// with month names and words such as "tomorrow", and written by format().
func DateLanguages(locale string) bool {
	_, ok := dateLangs[strings.ToLower(langOf(locale))]
	return ok
}

// FormatStyles are the styles format() takes.
var FormatStyles = []string{"long", "short", "weekday", "time", "iso"}

// FormatDate writes t in locale's language: "long" gives "8 January 2026"
// (de: "8. Januar 2026"), "short" the numeric date ("1/8/2026", de
// "08.01.2026"), "weekday" the long date after the day's name, "time" the
// hour as 15:30, "iso" 2026-01-08. Languages without date words write
// English; an unknown style writes iso.
func FormatDate(t time.Time, style, locale string) string {
	dl := dateLangs[strings.ToLower(langOf(locale))]
	if dl == nil {
		dl = dateLangs["en"]
	}
	y, m, d := t.Date()
	switch style {
	case "long":
		return dl.long(d, dl.months[m-1], y)
	case "short":
		return dl.short(d, int(m), y)
	case "weekday":
		return dl.weekdays[t.Weekday()] + ", " + dl.long(d, dl.months[m-1], y)
	case "time":
		return t.Format("15:04")
	}
	return t.Format("2006-01-02")
}

// parseTime reads a time of day as people type it: "15:30", "3pm",
// "3:30 pm", "15h30", "15 Uhr", "9.15", "noon". The result is "15:30".
func parseTime(raw string) (string, bool) {
	s := strings.ToLower(strings.TrimSpace(raw))
	switch s {
	case "noon", "midday", "mediodia", "mediodía", "midi", "mittag":
		return "12:00", true
	case "midnight", "medianoche", "minuit", "mitternacht":
		return "00:00", true
	}
	pm, am := false, false
	for _, suf := range []string{"p.m.", "pm", "p"} {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			s, pm = strings.TrimSpace(t), true
			break
		}
	}
	if !pm {
		for _, suf := range []string{"a.m.", "am", "a"} {
			if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
				s, am = strings.TrimSpace(t), true
				break
			}
		}
	}
	for _, suf := range []string{"uhr", "h", "o'clock"} {
		if t, ok := strings.CutSuffix(s, suf); ok && t != "" {
			s = strings.TrimSpace(t)
			break
		}
	}
	hs, ms, found := strings.Cut(s, ":")
	if !found {
		hs, ms, found = strings.Cut(s, "h")
	}
	if !found {
		hs, ms, found = strings.Cut(s, ".")
	}
	if !found {
		ms = "0"
	}
	h, err1 := strconv.Atoi(strings.TrimSpace(hs))
	mi, err2 := strconv.Atoi(strings.TrimSpace(ms))
	if err1 != nil || err2 != nil || len(strings.TrimSpace(hs)) > 2 || found && len(strings.TrimSpace(ms)) != 2 || mi < 0 || mi > 59 || h < 0 {
		return "", false
	}
	switch {
	case pm || am:
		if h < 1 || h > 12 {
			return "", false
		}
		if pm && h != 12 {
			h += 12
		} else if am && h == 12 {
			h = 0
		}
	case h > 23:
		return "", false
	}
	return fmt.Sprintf("%02d:%02d", h, mi), true
}

// dateArg reads the argument of date(): a date is itself, a date-time its
// day, a text is read like a typed date (ISO, 3/1/2026, "March 1, 2026").
func dateArg(v any, now time.Time) (time.Time, error) {
	switch x := v.(type) {
	case time.Time:
		return dateOf(x), nil
	case string:
		if d, ok := parseDate(x, "en", now); ok {
			return d, nil
		}
		return time.Time{}, fmt.Errorf("date(%q): that is not a date; write it as 2026-03-01", x)
	case nil:
		return time.Time{}, fmt.Errorf("date() of a var that has no value")
	}
	return time.Time{}, fmt.Errorf("date() takes a text or a date, not %s", describe(v))
}
