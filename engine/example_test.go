package engine_test

import (
	"fmt"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

// A two-card playbook, built by hand as package dsl would build it from
//
//	vars: {email: email}
//	cards:
//	  email:
//	    ask: What's your work email?
//	    input: email
//	    save: email
//	  thanks:
//	    say: Thanks! We'll write to {{ email }}.
//	    end: captured
func ExampleStep() {
	vars := []*engine.VarDecl{{Name: "email", Type: engine.TypeEmail}}
	env := engine.NewEnv(vars)
	hole, err := env.Compile("email", "")
	if err != nil {
		panic(err)
	}
	static := func(s string) *engine.Text {
		return &engine.Text{ByLocale: map[string]*engine.Template{"en": {Static: s, IsStatic: true}}}
	}
	p := engine.NewProgram(&engine.Program{
		ID: "capture", Hash: "v1", Locale: "en", Locales: []string{"en"}, Vars: vars,
		Cards: []*engine.Card{
			{Name: "email", Next: 1, Ask: &engine.Ask{
				Prompt: static("What's your work email?"), Input: engine.InputEmail, Save: "email",
				Retry: engine.Retry{Then: -1},
			}},
			{Name: "thanks", Next: -1, End: "captured", HasEnd: true, Say: []*engine.Text{{ByLocale: map[string]*engine.Template{
				"en": {Parts: []engine.Part{{Lit: "Thanks! We'll write to ", Expr: &engine.Expr{Src: "email", Prog: hole}}, {Lit: "."}}},
			}}}},
		},
	})

	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	s := engine.NewSession(p, "c1", now)
	for _, ev := range []engine.Event{
		{Kind: engine.EventStart, Locale: "en-GB"},
		{Kind: engine.EventText, Text: "ana at acme"},
		{Kind: engine.EventText, Text: "ana@acme.io"},
	} {
		ev.Now = now
		var out []engine.Effect
		s, out = engine.Step(p, s, ev)
		for _, e := range out {
			switch e.Kind {
			case engine.EffectSay:
				fmt.Printf("bot: %s\n", e.Text)
			case engine.EffectWait:
				fmt.Printf("(waits for %s)\n", e.Input)
			case engine.EffectEnd:
				fmt.Printf("(ends: %s)\n", e.Outcome)
			}
		}
	}
	fmt.Println(s.Status, s.Vars["email"])
	// Output:
	// bot: What's your work email?
	// (waits for email)
	// bot: That doesn't look like an email address.
	// bot: What's your work email?
	// (waits for email)
	// bot: Thanks! We'll write to ana@acme.io.
	// (ends: captured)
	// ended ana@acme.io
}
