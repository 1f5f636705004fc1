package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

func TestFormatDate(t *testing.T) {
	d := time.Date(2026, 1, 8, 15, 30, 0, 0, time.UTC)
	for _, tt := range []struct{ style, locale, want string }{
		{"long", "en", "8 January 2026"},
		{"long", "de-AT", "8. Januar 2026"},
		{"long", "es", "8 de enero de 2026"},
		{"long", "fr", "8 janvier 2026"},
		{"long", "pt-BR", "8 de janeiro de 2026"},
		{"long", "ja", "8 January 2026"}, // no date words: English
		{"short", "en", "1/8/2026"},
		{"short", "de", "08.01.2026"},
		{"weekday", "en", "Thursday, 8 January 2026"},
		{"weekday", "fr", "jeudi, 8 janvier 2026"},
		{"time", "de", "15:30"},
		{"iso", "de", "2026-01-08"},
	} {
		if got := engine.FormatDate(d, tt.style, tt.locale); got != tt.want {
			t.Errorf("FormatDate(%s, %s) = %q, want %q", tt.style, tt.locale, got, tt.want)
		}
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for raw, want := range map[string]string{
		"3pm": "15:00", "3 PM": "15:00", "3:30 pm": "15:30", "15:30": "15:30", "9.15": "09:15",
		"15h30": "15:30", "15 Uhr": "15:00", "12am": "00:00", "12pm": "12:00", "noon": "12:00", "7": "07:00",
		"25:00": "", "13pm": "", "3:7": "", "soon": "", "": "", "3:75": "",
	} {
		v, ok := engine.ParseInput(engine.InputTime, raw, "en", now)
		got, _ := v.(string)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("time %q = %q (ok %v), want %q", raw, got, ok, want)
		}
	}
}

// TestDateBuiltins runs today(), date(), format() and a date compared with
// a date-time in a conversation, in English and German.
func TestDateBuiltins(t *testing.T) {
	src := `playbook: dates
locale: en
locales: [en, de]
fallback: en
vars:
  start: {type: date}
cards:
  when:
    ask: {en: When?, de: Wann?}
    input: date
    save: start
  check:
    say: "{{ start >= now() ? 'ok' : 'past' }} {{ start == today() }} {{ format(start, 'long') }} {{ format(date('2026-03-01'), 'short') }} {{ date(now()) == today() }}"
    end: done
`
	prog, diags := dsl.Load("dates.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now := time.Date(2026, 1, 8, 16, 45, 0, 0, time.UTC) // "today" is before now(), but the same day
	for _, tt := range []struct{ lang, answer, want string }{
		{"en", "today", "ok true 8 January 2026 3/1/2026 true"},
		{"de", "heute", "ok true 8. Januar 2026 01.03.2026 true"},
		{"en", "yesterday", "past false 7 January 2026 3/1/2026 true"},
		{"de", "morgen", "ok false 9. Januar 2026 01.03.2026 true"},
	} {
		s := engine.NewSession(prog, "s", now)
		engine.Step(prog, s, engine.Event{Kind: engine.EventStart, Now: now, Visitor: &engine.Visitor{Language: tt.lang}})
		_, effs := engine.Step(prog, s, engine.Event{Kind: engine.EventText, Text: tt.answer, Now: now})
		var says []string
		for _, e := range effs {
			if e.Kind == engine.EffectSay {
				says = append(says, e.Text)
			}
			if e.Kind == engine.EffectError {
				t.Fatalf("%s: %v", tt.answer, e.Error)
			}
		}
		if strings.Join(says, "|") != tt.want {
			t.Errorf("%s %q: says %q, want %q", tt.lang, tt.answer, says, tt.want)
		}
	}
}

// TestBuiltinsAreTypeChecked: a built-in called with the wrong type is a
// load error, never a crash in the chat.
func TestBuiltinsAreTypeChecked(t *testing.T) {
	head := "playbook: t\nvars:\n  n: {type: number, default: 1}\n  d: {type: date, default: 2026-01-08}\ncards:\n  a:\n    say: "
	for expr, want := range map[string]string{
		`"{{ date(n) }}"`:                      "argument",
		`"{{ format(n, 'long') }}"`:            "argument",
		`"{{ format(d) }}"`:                    "not enough arguments",
		`"{{ upper(d) }}"`:                     "argument",
		`"{{ format(d, 'long') }}"`:            "",
		`"{{ date(d) }}"`:                      "",
		`"{{ today() - duration('1d') < d }}"`: "",
	} {
		_, diags := dsl.Load("t.yaml", []byte(head+expr+"\n    end: x\n"))
		got := ""
		if diags.HasErrors() {
			got = diags.Error()
		}
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want an error with %q", expr, got, want)
		}
		if strings.Contains(got, "float64") || strings.Contains(got, "time.Time") {
			t.Errorf("%s: Go types in %q", expr, got)
		}
	}
}

func TestRelativeDatesInEveryDateLanguage(t *testing.T) {
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC) // a Thursday
	for raw, want := range map[string]string{
		"amanhã": "2026-01-09", "domani": "2026-01-09", "morgen": "2026-01-09", "overmorgen": "2026-01-10",
		"hoje": "2026-01-08", "oggi": "2026-01-08", "vandaag": "2026-01-08", "ieri": "2026-01-07",
		"next monday": "2026-01-12", "Monday": "2026-01-12", "lunes": "2026-01-12", "nächsten Montag": "2026-01-12",
		"jeudi": "2026-01-15", "segunda-feira": "2026-01-12", "venerdì": "2026-01-09",
		"8 março 2026": "2026-03-08", "3 maart": "2026-03-03", "1 dicembre 2026": "2026-12-01",
	} {
		v, ok := engine.ParseInput(engine.InputDate, raw, "en", now)
		d, _ := v.(time.Time)
		if !ok || d.Format("2006-01-02") != want {
			t.Errorf("%q = %v (ok %v), want %s", raw, v, ok, want)
		}
	}
	for _, l := range []string{"en", "es", "fr", "de", "pt-BR", "it", "nl"} {
		if !engine.DateLanguages(l) {
			t.Errorf("%s has no date words", l)
		}
	}
}
