package engine_test

import (
	"testing"

	"github.com/playbook-dev/playbook/engine"
)

// BenchmarkStep measures one turn of the sales playbook (salesProgram): the
// visitor's answer, the checks, and the cards up to the next question.
// Each sub-benchmark resets the session to the question in place, so only
// Step is measured.
func BenchmarkStep(b *testing.B) {
	p := salesProgram(b)
	turns := []struct {
		name, card, answer string
		vars               map[string]any
	}{
		{"choice", "welcome", "Talk to sales", nil},                                    // say+choices -> ask email
		{"email", "email", "ana@acme.io", nil},                                         // email -> choices
		{"size", "size", "51-200", map[string]any{"email": "ana@acme.io"}},             // choice -> ask number
		{"budget-nurture", "budget", "900", map[string]any{"company_size": "1-10"}},    // validate, set, branch -> say+create+end
		{"budget-capture", "budget", "2500", map[string]any{"company_size": "51-200"}}, // ... -> handoff offline -> say+2 creates+end
		{"budget-handoff", "budget", "$2,500", map[string]any{"company_size": "201+"}}, // ... -> handoff online
	}
	for _, tt := range turns {
		b.Run(tt.name, func(b *testing.B) {
			c, _ := p.Card(tt.card)
			s := engine.NewSession(p, "bench", t0)
			s.Status = engine.StatusWaiting
			s.Visitor = engine.Visitor{Name: "Ana", Page: "/pricing"}
			for k, v := range tt.vars {
				s.Vars[k] = v
			}
			ev := engine.Event{Kind: engine.EventText, Text: tt.answer, Now: t0}
			if tt.name == "budget-handoff" {
				ev.Online = map[string]int{"sales": 1}
			}
			b.ReportAllocs()
			for b.Loop() {
				s.Status, s.Card, s.Timer = engine.StatusWaiting, c.Index, ""
				_, out := engine.Step(p, s, ev)
				if len(out) == 0 || out[0].Kind == engine.EffectError {
					b.Fatalf("effects %+v", out)
				}
			}
		})
	}

	// the whole conversation, start to end, per Step
	b.Run("conversation", func(b *testing.B) {
		script := []engine.Event{
			{Kind: engine.EventStart, Now: t0},
			{Kind: engine.EventButton, Button: "Talk to sales", Now: t0},
			{Kind: engine.EventText, Text: "ana@acme.io", Now: t0},
			{Kind: engine.EventText, Text: "51-200", Now: t0},
			{Kind: engine.EventText, Text: "2500", Now: t0},
		}
		s := engine.NewSession(p, "bench", t0)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i == 0 {
				s.Status, s.Card, s.Outcome = engine.StatusNew, 0, ""
				clear(s.Vars)
				s.Vars["score"] = 0
			}
			_, out := engine.Step(p, s, script[i])
			if len(out) == 0 || out[0].Kind == engine.EffectError {
				b.Fatalf("effects %+v", out)
			}
			i = (i + 1) % len(script)
		}
	})
}
