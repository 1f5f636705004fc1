package engine

import "strings"

// matchLocale picks the program locale for a browser language: an exact
// match first ("pt-BR"), then by language ("es-MX" picks "es"). want may
// be an Accept-Language list ("es-MX,es;q=0.9,en;q=0.8"), tried in order.
// No match picks the program's default locale.
func matchLocale(p *Program, want string) string {
	for want != "" {
		var cand string
		cand, want, _ = strings.Cut(want, ",")
		cand, _, _ = strings.Cut(cand, ";")
		cand = strings.TrimSpace(cand)
		if cand == "" || cand == "*" {
			continue
		}
		for _, l := range p.Locales {
			if strings.EqualFold(l, cand) {
				return l
			}
		}
		lang := langOf(cand)
		for _, l := range p.Locales {
			if strings.EqualFold(langOf(l), lang) {
				return l
			}
		}
		if strings.EqualFold(langOf(p.Locale), lang) {
			return p.Locale
		}
	}
	return p.Locale
}

// langOf returns the language part of a locale: "es-MX" and "es_MX" give
// "es".
func langOf(locale string) string {
	if i := strings.IndexAny(locale, "-_"); i >= 0 {
		return locale[:i]
	}
	return locale
}

// builtinLang returns the language of the built-in texts used for locale:
// en, es, fr or de (en for anything else).
func builtinLang(locale string) string {
	lang := langOf(locale)
	switch {
	case strings.EqualFold(lang, "es"):
		return "es"
	case strings.EqualFold(lang, "fr"):
		return "fr"
	case strings.EqualFold(lang, "de"):
		return "de"
	}
	return "en"
}

// yesNo holds the labels of the Yes and No buttons in one language.
type yesNo struct{ yes, no string }

var yesNoLabels = map[string]yesNo{
	"en": {"Yes", "No"},
	"es": {"Sí", "No"},
	"fr": {"Oui", "Non"},
	"de": {"Ja", "Nein"},
}

func wordsFor(locale string) yesNo { return yesNoLabels[builtinLang(locale)] }

// hints are the built-in explanations after an invalid answer, by language
// and input type.
var hints = map[string]map[InputType]string{
	"en": {
		InputText:   "Please type your answer.",
		InputEmail:  "That doesn't look like an email address.",
		InputPhone:  "That doesn't look like a phone number. Please include the area code.",
		InputNumber: "Please enter a number, like 2500.",
		InputInt:    "Please enter a whole number, like 12.",
		InputDate:   "Please enter a date, like 2026-03-01.",
		InputTime:   "Please enter a time, like 3pm or 15:30.",
		InputURL:    "That doesn't look like a web address.",
		InputYesNo:  "Please answer yes or no.",
		InputChoice: "Please pick one of the options.",
		InputIntent: "Sorry, I didn't get that. Could you say it another way?",
	},
	"es": {
		InputText:   "Escribe tu respuesta, por favor.",
		InputEmail:  "Eso no parece una dirección de correo electrónico.",
		InputPhone:  "Eso no parece un número de teléfono. Incluye el prefijo, por favor.",
		InputNumber: "Escribe un número, por ejemplo 2500.",
		InputInt:    "Escribe un número entero, por ejemplo 12.",
		InputDate:   "Escribe una fecha, por ejemplo 2026-03-01.",
		InputTime:   "Escribe una hora, por ejemplo 15:30.",
		InputURL:    "Eso no parece una dirección web.",
		InputYesNo:  "Responde sí o no, por favor.",
		InputChoice: "Elige una de las opciones, por favor.",
		InputIntent: "Perdona, no lo he entendido. ¿Puedes decirlo de otra manera?",
	},
	"fr": {
		InputText:   "Veuillez saisir votre réponse.",
		InputEmail:  "Cela ne ressemble pas à une adresse e-mail.",
		InputPhone:  "Cela ne ressemble pas à un numéro de téléphone. Indiquez l'indicatif, s'il vous plaît.",
		InputNumber: "Veuillez saisir un nombre, par exemple 2500.",
		InputInt:    "Veuillez saisir un nombre entier, par exemple 12.",
		InputDate:   "Veuillez saisir une date, par exemple 2026-03-01.",
		InputTime:   "Veuillez saisir une heure, par exemple 15h30.",
		InputURL:    "Cela ne ressemble pas à une adresse web.",
		InputYesNo:  "Veuillez répondre par oui ou par non.",
		InputChoice: "Veuillez choisir l'une des options.",
		InputIntent: "Désolé, je n'ai pas compris. Pouvez-vous le dire autrement ?",
	},
	"de": {
		InputText:   "Bitte gib deine Antwort ein.",
		InputEmail:  "Das sieht nicht nach einer E-Mail-Adresse aus.",
		InputPhone:  "Das sieht nicht nach einer Telefonnummer aus. Bitte mit Vorwahl.",
		InputNumber: "Bitte gib eine Zahl ein, zum Beispiel 2500.",
		InputInt:    "Bitte gib eine ganze Zahl ein, zum Beispiel 12.",
		InputDate:   "Bitte gib ein Datum ein, zum Beispiel 2026-03-01.",
		InputTime:   "Bitte gib eine Uhrzeit ein, zum Beispiel 15:30.",
		InputURL:    "Das sieht nicht nach einer Webadresse aus.",
		InputYesNo:  "Bitte antworte mit Ja oder Nein.",
		InputChoice: "Bitte wähle eine der Optionen.",
		InputIntent: "Entschuldigung, das habe ich nicht verstanden. Kannst du es anders sagen?",
	},
}

// builtinHint returns the built-in hint for an invalid answer of type t in
// locale's language (en, es, fr or de; en otherwise) and the language used.
func builtinHint(locale string, t InputType) (lang, hint string) {
	lang = builtinLang(locale)
	h, ok := hints[lang][t]
	if !ok {
		h = hints[lang][InputText]
	}
	return lang, h
}

// Hint returns the built-in explanation shown after an invalid answer to a
// question of input type t, in locale's language (en, es, fr or de; other
// locales get English).
func Hint(t InputType, locale string) string {
	_, h := builtinHint(locale, t)
	return h
}

// yesNoWords maps folded answers (see NormalizeLabel) in English, Spanish,
// French and German to yes (true) or no (false).
var yesNoWords = map[string]bool{
	// yes
	"yes": true, "y": true, "yeah": true, "yep": true, "yup": true, "ya": true, "sure": true,
	"ok": true, "okay": true, "of course": true, "correct": true, "right": true, "true": true,
	"absolutely": true, "definitely": true, "indeed": true, "yes please": true,
	"si": true, "claro": true, "vale": true, "por supuesto": true, "de acuerdo": true,
	"correcto": true, "exacto": true, "si claro": true, "claro que si": true,
	"oui": true, "ouais": true, "bien sur": true, "d'accord": true, "daccord": true,
	"exactement": true, "tout a fait": true, "volontiers": true,
	"ja": true, "jawohl": true, "klar": true, "genau": true, "gerne": true,
	"naturlich": true, "sicher": true, "jep": true, "jo": true,
	"👍": true, "✅": true,
	// no
	"no": false, "n": false, "nope": false, "nah": false, "not really": false, "false": false,
	"no thanks": false, "no thank you": false, "never": false, "not at all": false,
	"no gracias": false, "para nada": false, "en absoluto": false, "nunca": false,
	"non": false, "pas du tout": false, "non merci": false, "jamais": false,
	"nein": false, "ne": false, "nee": false, "nein danke": false, "gar nicht": false, "nie": false,
	"👎": false, "❌": false,
}

// parseYesNo reads a yes or a no in English, Spanish, French or German
// ("Sí", "oui", "Nein danke", "yes please", "no, thanks").
func parseYesNo(raw string) (bool, bool) {
	key := NormalizeLabel(raw)
	if b, ok := yesNoWords[key]; ok {
		return b, true
	}
	first, rest, _ := strings.Cut(key, " ")
	first = strings.TrimRight(first, ",;:.!")
	if b, ok := yesNoWords[first]; ok && rest != "" && len(first) > 1 {
		return b, true
	}
	return false, false
}
