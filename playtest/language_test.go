package playtest

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

const twoLocales = `playbook: lang
locale: en
locales: [en, es]
vars:
  topic: string
cards:
  ask_topic:
    ask: {en: "What do you need?", es: "¿Qué necesitas?"}
    save: topic
  thanks:
    say: {en: "Thanks, we're on it.", es: "Gracias, nos ponemos con ello."}
    end: done
`

// TestSimLanguageFromTheFirstMessage: test and chat switch the language
// from the visitor's first message as serve does (langdetect's one rule):
// a sure first message moves the session; a later one, or one word, not.
func TestSimLanguageFromTheFirstMessage(t *testing.T) {
	p := load(t, twoLocales)
	for _, tt := range []struct {
		name, first, want string
	}{
		{"spanish first", "Hola, necesito ayuda con mi pedido", "Gracias, nos ponemos con ello."},
		{"one word", "Hola", "Thanks, we're on it."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSim(p, "v1", time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC))
			if err := s.Start(engine.Visitor{}, "en"); err != nil {
				t.Fatal(err)
			}
			if err := s.Text(tt.first); err != nil {
				t.Fatal(err)
			}
			if got := s.Messages[len(s.Messages)-1].Text; got != tt.want {
				t.Fatalf("the bot answered %q, want %q", got, tt.want)
			}
		})
	}
}
