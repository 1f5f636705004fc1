package langdetect_test

import (
	"testing"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/langdetect"
)

func TestDetect(t *testing.T) {
	src := "playbook: t\nlocale: en\nlocales: [en, es, de]\ncards:\n  a:\n    say: {en: Hi, es: Hola, de: Hallo}\n    end: x\n"
	p, diags := dsl.Load("t.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	one, _ := dsl.Load("o.yaml", []byte("playbook: o\ncards:\n  a:\n    end: x\n"))
	tests := []struct{ text, want string }{
		{"Hola, necesito ayuda", "es"},
		{"Hola, necesito ayuda con mi pedido por favor", "es"},
		{"Guten Tag, ich brauche Hilfe mit meiner Bestellung", "de"},
		{"Hello, I need help with my order", "en"},
		{"Hola", ""},    // one word: too ambiguous
		{"Gracias", ""}, // one word
		{"ok ok", ""},   // not sure
		{"", ""},
	}
	for _, tt := range tests {
		if got := langdetect.Detect(p, tt.text); got != tt.want {
			t.Errorf("Detect(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
	if got := langdetect.Detect(one, "Hola, necesito ayuda"); got != "" {
		t.Errorf("a playbook with one locale moved to %q", got)
	}
}

// BenchmarkDetect is the cost of the guess, paid once per
// conversation (its first typed message), with four locales.
func BenchmarkDetect(b *testing.B) {
	src := "playbook: t\nlocale: en\nlocales: [en, es, fr, de]\ncards:\n  a:\n    say: {en: Hi, es: Hola, fr: Salut, de: Hallo}\n    end: x\n"
	p, diags := dsl.Load("t.yaml", []byte(src))
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	b.ReportAllocs()
	for b.Loop() {
		if langdetect.Detect(p, "Hola, necesito ayuda con mi pedido") != "es" {
			b.Fatal("not es")
		}
	}
}
