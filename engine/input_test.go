package engine_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestParseInput(t *testing.T) {
	now := time.Date(2026, 1, 5, 22, 30, 0, 0, time.UTC)
	tests := []struct {
		in     engine.InputType
		locale string
		raw    string
		want   any // nil: invalid
	}{
		// text
		{engine.InputText, "en", "  Ana Lima ", "Ana Lima"},
		{engine.InputText, "en", "   ", nil},
		{"", "en", "hi", "hi"},

		// email
		{engine.InputEmail, "en", "ana@acme.io", "ana@acme.io"},
		{engine.InputEmail, "en", " Ana.Lima+chat@Acme.CO.uk. ", "Ana.Lima+chat@Acme.CO.uk"},
		{engine.InputEmail, "en", "<bo@globex.com>", "bo@globex.com"},
		{engine.InputEmail, "en", "mailto:bo@globex.com", "bo@globex.com"},
		{engine.InputEmail, "en", "josé@correo.es", "josé@correo.es"},
		{engine.InputEmail, "en", "not an email", nil},
		{engine.InputEmail, "en", "ana@acme", nil},
		{engine.InputEmail, "en", "ana@acme.c", nil},
		{engine.InputEmail, "en", "@acme.io", nil},
		{engine.InputEmail, "en", "ana@", nil},
		{engine.InputEmail, "en", "an a@acme.io", nil},
		{engine.InputEmail, "en", "ana..b@acme.io", nil},
		{engine.InputEmail, "en", "ana@-acme.io", nil},
		{engine.InputEmail, "en", "ana@acme..io", nil},
		{engine.InputEmail, "en", "ana@1.2.3.4", nil},

		// phone
		{engine.InputPhone, "en", "+1 415 555 0100", "+1 415 555 0100"},
		{engine.InputPhone, "en", "(415) 555-0100", "(415) 555-0100"},
		{engine.InputPhone, "en", "0049 30  1234567", "0049 30 1234567"},
		{engine.InputPhone, "en", "555-01", nil},
		{engine.InputPhone, "en", "call me maybe", nil},
		{engine.InputPhone, "en", "415+555+0100", nil},
		{engine.InputPhone, "en", "1234567890123456", nil},

		// number
		{engine.InputNumber, "en", "2500", 2500.0},
		{engine.InputNumber, "en", "2,500", 2500.0},
		{engine.InputNumber, "en", "$2500", 2500.0},
		{engine.InputNumber, "en", "$ 2,500.50", 2500.5},
		{engine.InputNumber, "en", "2500 USD", 2500.0},
		{engine.InputNumber, "en", "2500 dollars a month", 2500.0},
		{engine.InputNumber, "en", "about 3k", 3000.0},
		{engine.InputNumber, "en", "1.5k", 1500.0},
		{engine.InputNumber, "en", "1.5K$", 1500.0},
		{engine.InputNumber, "en", "2 million", 2e6},
		{engine.InputNumber, "en", "2.5m", 2.5e6},
		{engine.InputNumber, "en", "1,000,000", 1e6},
		{engine.InputNumber, "en", "-4", -4.0},
		{engine.InputNumber, "en", "-$4", -4.0},
		{engine.InputNumber, "en", ".5", 0.5},
		{engine.InputNumber, "en", "2500.", 2500.0},
		{engine.InputNumber, "en", "1.500", 1.5},
		{engine.InputNumber, "de", "1.500", 1500.0},
		{engine.InputNumber, "de", "2,5", 2.5},
		{engine.InputNumber, "de", "€2.500,50", 2500.5},
		{engine.InputNumber, "fr", "2 500 €", 2500.0},
		{engine.InputNumber, "fr", "2\u00a0500,5", 2500.5},
		{engine.InputNumber, "es", "3 mil", 3000.0},
		{engine.InputNumber, "es", "2 millones de dólares", 2e6},
		{engine.InputNumber, "en", "1'000", 1000.0},
		{engine.InputNumber, "en", "twenty", nil},
		{engine.InputNumber, "en", "", nil},
		{engine.InputNumber, "en", "2500 apples", nil},
		{engine.InputNumber, "en", "call 555 0100", nil},
		{engine.InputNumber, "en", "1,2,3", nil},
		{engine.InputNumber, "en", "1.2.3", nil},

		// int
		{engine.InputInt, "en", "12", 12},
		{engine.InputInt, "en", "1.5k", 1500},
		{engine.InputInt, "en", "1,200", 1200},
		{engine.InputInt, "en", "2.5", nil},
		{engine.InputInt, "en", "many", nil},

		// date
		{engine.InputDate, "en", "2026-03-01", date(2026, 3, 1)},
		{engine.InputDate, "en", "2026-03-01T23:00:00-05:00", date(2026, 3, 1)},
		{engine.InputDate, "en", "2026/03/01", date(2026, 3, 1)},
		{engine.InputDate, "en", "3/1/2026", date(2026, 3, 1)},
		{engine.InputDate, "es", "3/1/2026", date(2026, 1, 3)},
		{engine.InputDate, "en", "25/12/2026", date(2026, 12, 25)},
		{engine.InputDate, "de", "01.03.2026", date(2026, 3, 1)},
		{engine.InputDate, "de", "1.3.26", date(2026, 3, 1)},
		{engine.InputDate, "en", "March 1, 2026", date(2026, 3, 1)},
		{engine.InputDate, "en", "Mar 1st", date(2026, 3, 1)},
		{engine.InputDate, "en", "the 1st of March 2026", date(2026, 3, 1)},
		{engine.InputDate, "fr", "1er mars 2026", date(2026, 3, 1)},
		{engine.InputDate, "es", "1 de marzo de 2026", date(2026, 3, 1)},
		{engine.InputDate, "de", "1. März 2026", date(2026, 3, 1)},
		{engine.InputDate, "en", "today", date(2026, 1, 5)},
		{engine.InputDate, "es", "mañana", date(2026, 1, 6)},
		{engine.InputDate, "fr", "Demain", date(2026, 1, 6)},
		{engine.InputDate, "de", "heute", date(2026, 1, 5)},
		{engine.InputDate, "en", "2026-02-30", nil},
		{engine.InputDate, "en", "31/31/2026", nil},
		{engine.InputDate, "en", "someday", nil},
		{engine.InputDate, "en", "March", nil},
		{engine.InputDate, "en", "", nil},

		// url
		{engine.InputURL, "en", "https://app.example.com/settings", "https://app.example.com/settings"},
		{engine.InputURL, "en", "app.example.com/settings?tab=2", "https://app.example.com/settings?tab=2"},
		{engine.InputURL, "en", "www.example.com.", "https://www.example.com"},
		{engine.InputURL, "en", "http://localhost:8080/x", "http://localhost:8080/x"},
		{engine.InputURL, "en", "http://10.0.0.1/x", "http://10.0.0.1/x"},
		{engine.InputURL, "en", "not a url", nil},
		{engine.InputURL, "en", "settings", nil},
		{engine.InputURL, "en", "ftp://example.com/x", nil},
		{engine.InputURL, "en", "ana@acme.io", nil},
		{engine.InputURL, "en", "/relative/path", nil},

		// yes_no
		{engine.InputYesNo, "en", "yes", true},
		{engine.InputYesNo, "en", "Y", true},
		{engine.InputYesNo, "en", "Yes please!", true},
		{engine.InputYesNo, "en", "no, thanks", false},
		{engine.InputYesNo, "es", "Sí", true},
		{engine.InputYesNo, "es", "si, claro", true},
		{engine.InputYesNo, "es", "No gracias", false},
		{engine.InputYesNo, "fr", "Oui", true},
		{engine.InputYesNo, "fr", "Bien sûr", true},
		{engine.InputYesNo, "fr", "non", false},
		{engine.InputYesNo, "de", "Ja", true},
		{engine.InputYesNo, "de", "Nein", false},
		{engine.InputYesNo, "de", "nö", false},
		{engine.InputYesNo, "en", "👍", true},
		{engine.InputYesNo, "en", "maybe", nil},
		{engine.InputYesNo, "en", "", nil},
	}
	for _, tt := range tests {
		t.Run(string(tt.in)+"/"+tt.locale+"/"+tt.raw, func(t *testing.T) {
			got, ok := engine.ParseInput(tt.in, tt.raw, tt.locale, now)
			if tt.want == nil {
				if ok {
					t.Fatalf("accepted as %#v", got)
				}
				return
			}
			if !ok {
				t.Fatalf("rejected, want %#v", tt.want)
			}
			if got != tt.want {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestHint(t *testing.T) {
	tests := []struct {
		in     engine.InputType
		locale string
		want   string
	}{
		{engine.InputEmail, "en", "That doesn't look like an email address."},
		{engine.InputEmail, "es-MX", "Eso no parece una dirección de correo electrónico."},
		{engine.InputEmail, "fr", "Cela ne ressemble pas à une adresse e-mail."},
		{engine.InputEmail, "de", "Das sieht nicht nach einer E-Mail-Adresse aus."},
		{engine.InputEmail, "pt", "That doesn't look like an email address."},
		{engine.InputYesNo, "de", "Bitte antworte mit Ja oder Nein."},
		{engine.InputChoice, "es", "Elige una de las opciones, por favor."},
		{"unknown", "fr", "Veuillez saisir votre réponse."},
	}
	for _, tt := range tests {
		if got := engine.Hint(tt.in, tt.locale); got != tt.want {
			t.Errorf("Hint(%s, %s) = %q, want %q", tt.in, tt.locale, got, tt.want)
		}
	}
	for _, lang := range []string{"en", "es", "fr", "de"} {
		for _, in := range []engine.InputType{engine.InputText, engine.InputEmail, engine.InputPhone, engine.InputNumber, engine.InputInt, engine.InputDate, engine.InputURL, engine.InputYesNo, engine.InputChoice} {
			if engine.Hint(in, lang) == "" {
				t.Errorf("no %s hint for %s", lang, in)
			}
		}
	}
}

// FuzzParseInput checks that no input makes a parser panic, and that what
// one accepts has the documented Go type.
func FuzzParseInput(f *testing.F) {
	for _, s := range []string{"2,500", "$2500", "1.5k", "€2.500,50", "ana@acme.io", "+1 415 555 0100", "2026-03-01",
		"1er mars 2026", "3/1/26", "app.example.com", "Sí", "nö", "", " ", "..", "-", "1,,2", "\u00a0500", "k", "mañana"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, in := range []engine.InputType{engine.InputText, engine.InputEmail, engine.InputPhone, engine.InputNumber,
			engine.InputInt, engine.InputDate, engine.InputURL, engine.InputYesNo} {
			for _, loc := range []string{"en", "de"} {
				v, ok := engine.ParseInput(in, raw, loc, now)
				if !ok {
					continue
				}
				switch in {
				case engine.InputNumber:
					_, ok = v.(float64)
				case engine.InputInt:
					_, ok = v.(int)
				case engine.InputDate:
					_, ok = v.(time.Time)
				case engine.InputYesNo:
					_, ok = v.(bool)
				default:
					_, ok = v.(string)
				}
				if !ok {
					t.Fatalf("%s %q gave %T", in, raw, v)
				}
			}
		}
	})
}
