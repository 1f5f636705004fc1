package engine_test

import (
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// FuzzTemplate compiles an arbitrary text as a say card's template and
// renders it with arbitrary var values: compiling reports problems as
// diagnostics, rendering never panics and yields valid UTF-8.
func FuzzTemplate(f *testing.F) {
	for _, seed := range []struct{ tmpl, val string }{
		{"Hi {{ name ?? 'there' }}!", "Ana"},
		{"{{ n * 2 }} seats for {{ upper(name) }}", "x"},
		{"{{ name }}{{ name }}{{", "<b>"},
		{"}} {{ 1/0 }}", ""},
		{"{{ visitor.name ?? name }} {{ now() }}", "\xff"},
		{"{{ split(name, '@')[1] }}", "ana@acme.io"},
	} {
		f.Add(seed.tmpl, seed.val)
	}
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, tmpl, val string) {
		src := "playbook: f\nvars:\n  name: string\n  n: {type: number, default: 2}\ncards:\n  a:\n    ask: name?\n    save: name\n  b:\n    say: " + strconv.Quote(tmpl) + "\n    end: done\n"
		p, diags := dsl.Load("f.yaml", []byte(src))
		if p == nil {
			if !diags.HasErrors() {
				t.Fatal("no program and no error")
			}
			return
		}
		s := engine.NewSession(p, "s", now)
		s, _ = engine.Step(p, s, engine.Event{Kind: engine.EventStart, Now: now})
		_, effs := engine.Step(p, s, engine.Event{Kind: engine.EventText, Text: val, Now: now})
		for _, e := range effs {
			if !utf8.ValidString(e.Text) && utf8.ValidString(val) && utf8.ValidString(tmpl) {
				t.Fatalf("invalid UTF-8 out of valid input: %q", e.Text)
			}
		}
	})
}
