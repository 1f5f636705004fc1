package engine_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
)

var t0 = time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)

// chat drives one session of a program and keeps the last effects.
type chat struct {
	tb      testing.TB
	p       *engine.Program
	s       *engine.Session
	now     time.Time
	online  map[string]int
	open    map[string]bool
	out     []engine.Effect
	visited []int
}

func newChat(tb testing.TB, p *engine.Program) *chat {
	return &chat{tb: tb, p: p, s: engine.NewSession(p, "s1", t0), now: t0}
}

func (c *chat) step(ev engine.Event) []engine.Effect {
	c.tb.Helper()
	if ev.Now.IsZero() {
		ev.Now = c.now
	}
	ev.Online, ev.Open = c.online, c.open
	turn := c.s.Turn
	s, out := engine.StepTrace(c.p, c.s, ev, func(i int) { c.visited = append(c.visited, i) })
	if s != c.s {
		c.tb.Fatalf("Step returned another session")
	}
	if s.Turn != turn+1 {
		c.tb.Fatalf("turn went from %d to %d", turn, s.Turn)
	}
	for _, e := range out {
		if e.Kind == "" {
			c.tb.Fatalf("effect without a kind: %+v", e)
		}
	}
	c.out = out
	return out
}

func (c *chat) start(v *engine.Visitor, locale string) []engine.Effect {
	return c.step(engine.Event{Kind: engine.EventStart, Visitor: v, Locale: locale})
}

func (c *chat) text(s string) []engine.Effect {
	return c.step(engine.Event{Kind: engine.EventText, Text: s})
}

func (c *chat) click(v string) []engine.Effect {
	return c.step(engine.Event{Kind: engine.EventButton, Button: v})
}

// says returns the texts of the say effects.
func says(out []engine.Effect) []string {
	var s []string
	for _, e := range out {
		if e.Kind == engine.EffectSay {
			s = append(s, e.Text)
		}
	}
	return s
}

func kinds(out []engine.Effect) []engine.EffectKind {
	k := make([]engine.EffectKind, len(out))
	for i, e := range out {
		k[i] = e.Kind
	}
	return k
}

func labels(bs []engine.Button) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Label
	}
	return out
}

func find(out []engine.Effect, k engine.EffectKind) *engine.Effect {
	for i := range out {
		if out[i].Kind == k {
			return &out[i]
		}
	}
	return nil
}

func (c *chat) wantSays(want ...string) {
	c.tb.Helper()
	if got := says(c.out); !slices.Equal(got, want) {
		c.tb.Fatalf("bot said %q, want %q (effects %v)", got, want, kinds(c.out))
	}
}

func (c *chat) wantStatus(st engine.Status, card string) {
	c.tb.Helper()
	if c.s.Status != st {
		c.tb.Fatalf("status %q, want %q (effects %+v)", c.s.Status, st, c.out)
	}
	if card != "" && c.p.Cards[c.s.Card].Name != card {
		c.tb.Fatalf("at card %q, want %q", c.p.Cards[c.s.Card].Name, card)
	}
}

func (c *chat) wantError(substr string) *engine.RuntimeError {
	c.tb.Helper()
	e := find(c.out, engine.EffectError)
	if e == nil || e.Error == nil {
		c.tb.Fatalf("no error effect, got %+v", c.out)
	}
	if !strings.Contains(e.Error.Msg, substr) {
		c.tb.Fatalf("error %q, want it to contain %q", e.Error.Msg, substr)
	}
	return e.Error
}

func TestSalesConversation(t *testing.T) {
	c := newChat(t, salesProgram(t))
	c.start(&engine.Visitor{Page: "/pricing"}, "en-US")
	c.wantSays("Hi there! What brings you here?")
	if got := labels(c.out[0].Buttons); !slices.Equal(got, []string{"Talk to sales", "Just browsing"}) {
		t.Fatalf("buttons %q", got)
	}
	if w := find(c.out, engine.EffectWait); w == nil || w.Input != engine.InputChoice || len(w.Buttons) != 2 {
		t.Fatalf("wait effect %+v", w)
	}
	c.wantStatus(engine.StatusWaiting, "welcome")

	c.click("Talk to sales")
	c.wantSays("What's your work email?")
	c.text("not an email")
	c.wantSays("That doesn't look like an email.", "What's your work email?")
	if c.s.Tries != 1 {
		t.Fatalf("tries %d", c.s.Tries)
	}
	c.text(" ana@ACME.io ")
	c.wantSays("How many employees?")
	if got := labels(c.out[0].Buttons); !slices.Equal(got, []string{"1-10", "11-50", "51-200", "201+"}) {
		t.Fatalf("buttons %q", got)
	}
	if c.s.Vars["email"] != "ana@ACME.io" || c.s.Tries != 0 {
		t.Fatalf("vars %v tries %d", c.s.Vars, c.s.Tries)
	}
	c.text("51-200")
	c.wantSays("Monthly budget in USD?")
	c.text("0")
	c.wantSays("Please enter an amount above zero.", "Monthly budget in USD?")
	if _, ok := c.s.Vars["budget"]; ok {
		t.Fatalf("a rejected answer stayed in the vars: %v", c.s.Vars)
	}
	c.text("$2,500")
	c.wantSays("Our team is away right now. We'll email ana@ACME.io within one business day.")
	c.wantStatus(engine.StatusEnded, "capture")
	if c.s.Outcome != "qualified" || c.s.Vars["score"] != 3 || c.s.Vars["budget"] != 2500.0 {
		t.Fatalf("outcome %q vars %v", c.s.Outcome, c.s.Vars)
	}
	// The handoff card found sales away: it says so (the chat belongs to
	// sales all the same), then its offline path runs.
	wantKinds := []engine.EffectKind{engine.EffectAway, engine.EffectSay, engine.EffectCreate, engine.EffectCreate, engine.EffectEnd}
	if got := kinds(c.out); !slices.Equal(got, wantKinds) {
		t.Fatalf("effects %v, want %v", got, wantKinds)
	}
	if h := c.out[0].Handoff; h == nil || h.Team != "sales" || c.out[0].Card != "sales" {
		t.Fatalf("away %+v", c.out[0])
	}
	lead, task := c.out[2].Record, c.out[3].Record
	wantLead := map[string]any{
		"title":    "ana@ACME.io (51-200)",
		"person":   map[string]any{"email": "ana@ACME.io"},
		"value":    30000.0,
		"currency": "USD",
		"owner":    "round_robin:sales",
	}
	if lead.Kind != engine.RecordLead || !reflect.DeepEqual(lead.Fields, wantLead) {
		t.Fatalf("lead %+v", lead)
	}
	if lead.Key != "s1:7:capture:0" || task.Key != "s1:7:capture:1" {
		t.Fatalf("keys %q %q", lead.Key, task.Key)
	}
	if task.Fields["due"] != t0.Add(24*time.Hour) || task.Fields["subject"] != "Call back ana@ACME.io" {
		t.Fatalf("task %+v", task.Fields)
	}
	if c.out[4].Outcome != "qualified" {
		t.Fatalf("end %+v", c.out[4])
	}
	want := []int{0, 2, 3, 4, 5, 6} // welcome, email, size, budget, sales (offline), capture
	if !slices.Equal(c.visited, want) {
		t.Fatalf("visited %v, want %v", c.visited, want)
	}
	// the bot part is over: more text does nothing
	if out := c.text("hello?"); len(out) != 0 {
		t.Fatalf("effects after the end: %+v", out)
	}
}

func TestLocale(t *testing.T) {
	tests := []struct {
		locale, visitorLang string
		want                string
		hello               string
	}{
		{"es-MX", "", "es", "¡Hola Lucía! ¿Qué te trae por aquí?"},
		{"ES", "", "es", "¡Hola Lucía! ¿Qué te trae por aquí?"},
		{"fr-FR,es;q=0.8", "", "es", "¡Hola Lucía! ¿Qué te trae por aquí?"},
		{"de", "", "en", "Hi Lucía! What brings you here?"},
		{"", "es-AR", "es", "¡Hola Lucía! ¿Qué te trae por aquí?"},
		{"", "", "en", "Hi Lucía! What brings you here?"},
	}
	for _, tt := range tests {
		t.Run(tt.locale+"/"+tt.visitorLang, func(t *testing.T) {
			c := newChat(t, salesProgram(t))
			c.start(&engine.Visitor{Name: "Lucía", Language: tt.visitorLang}, tt.locale)
			if c.s.Locale != tt.want {
				t.Fatalf("locale %q, want %q", c.s.Locale, tt.want)
			}
			c.wantSays(tt.hello)
			if c.out[0].Locale != tt.want {
				t.Fatalf("effect locale %q", c.out[0].Locale)
			}
		})
	}

	t.Run("fallback", func(t *testing.T) {
		c := newChat(t, salesProgram(t))
		c.start(nil, "es")
		if got := labels(c.out[0].Buttons); !slices.Equal(got, []string{"Hablar con ventas", "Solo estoy mirando"}) {
			t.Fatalf("buttons %q", got)
		}
		c.text("hablar con VENTAS")
		c.wantSays("¿Cuál es tu correo de trabajo?")
		c.text("lucia@acme.es")
		c.wantSays("How many employees?") // only in English: falls back
		if c.out[0].Locale != "en" {
			t.Fatalf("fallback locale %q", c.out[0].Locale)
		}
		c.text("x")
		c.wantSays("Elige una de las opciones, por favor.", "How many employees?")
	})

	t.Run("no fallback: default locale", func(t *testing.T) {
		b := newBuilder(t, "p").locales("de", "de", "fr")
		b.card("a", &engine.Card{Say: []*engine.Text{b.text("de", "Hallo")}, End: "x", HasEnd: true}, "")
		c := newChat(t, b.build())
		c.start(nil, "fr")
		c.wantSays("Hallo")
	})
}

func TestChoiceMatching(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "pick", Type: engine.TypeString}).locales("es", "es", "en")
	a := b.ask(b.text("es", "¿Seguro?", "en", "Sure?"), engine.InputChoice, "pick")
	a.Choices = []*engine.Choice{
		b.choice(b.text("es", "Sí", "en", "Yes"), "", ""),
		b.choice(b.text("es", "Hablar con ventas", "en", "Talk to sales"), "ventas", ""),
		b.choice(b.text("es", "Ñandú   azul", "en", "Blue rhea"), "rhea", ""),
	}
	b.card("q", &engine.Card{Ask: a}, "")
	b.card("done", &engine.Card{Say: b.say("ok"), End: "", HasEnd: true}, "")
	p := b.build()
	tests := []struct {
		in     string
		button bool
		want   any
	}{
		{"Sí", false, "Sí"},
		{"si", false, "Sí"},
		{"SI!", false, "Sí"},
		{"  TALK to sales ", false, "ventas"},
		{"hablar   con ventas.", false, "ventas"},
		{"nandu azul", false, "rhea"},
		{"ÑANDÚ AZUL", false, "rhea"},
		{"VENTAS", false, "ventas"},
		{"3", false, "rhea"},
		{"#2", false, "ventas"},
		{"ventas", true, "ventas"},
		{"Blue rhea", true, "rhea"},
		{"4", false, nil},
		{"0", false, nil},
		{"talk", false, nil},
		{"", false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c := newChat(t, p)
			c.start(nil, "es")
			if tt.button {
				c.click(tt.in)
			} else {
				c.text(tt.in)
			}
			if got := c.s.Vars["pick"]; got != tt.want {
				t.Fatalf("picked %v, want %v", got, tt.want)
			}
			if tt.want == nil {
				c.wantSays("Elige una de las opciones, por favor.", "¿Seguro?")
				if n := len(c.out[1].Buttons); n != 3 {
					t.Fatalf("re-asked with %d buttons", n)
				}
			}
		})
	}
}

func TestChoiceGotoWinsOverBranchAndGoto(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "n", Type: engine.TypeInt})
	a := &engine.Ask{Input: engine.InputChoice, Retry: engine.Retry{Then: -1}, Choices: []*engine.Choice{
		b.choice(b.text("A"), "", "a"),
		b.choice(b.text("B"), "", ""),
	}}
	q := b.card("q", &engine.Card{
		Say:    b.say("first bubble", "pick one"),
		Ask:    a,
		Set:    []engine.Assign{{Var: "n", Expr: b.expr("1", engine.TypeInt)}},
		Branch: []engine.Branch{{If: b.expr("n == 2", engine.TypeBool)}},
	}, "b")
	b.to(&q.Branch[0].Goto, "a")
	b.card("a", &engine.Card{Say: b.say("in a"), End: "a", HasEnd: true}, "")
	b.card("b", &engine.Card{Say: b.say("in b"), End: "b", HasEnd: true}, "")
	p := b.build()

	c := newChat(t, p)
	c.start(nil, "")
	if c.out[0].Buttons != nil || len(c.out[1].Buttons) != 2 {
		t.Fatalf("buttons belong on the last bubble: %+v", c.out)
	}
	c.text("A")
	c.wantSays("in a")
	if c.s.Vars["n"] != 1 {
		t.Fatalf("set did not run before the choice's goto: %v", c.s.Vars)
	}

	c = newChat(t, p)
	c.start(nil, "")
	c.click("B")
	c.wantSays("in b") // the card's goto

	c = newChat(t, p)
	c.start(nil, "")
	c.text("nope")
	c.wantSays("Please pick one of the options.", "pick one") // only the question bubble again
}

func TestSkipIf(t *testing.T) {
	p := salesProgram(t)
	c := newChat(t, p)
	c.s.Vars["email"] = "known@acme.io"
	c.start(nil, "")
	c.click("Talk to sales")
	c.wantSays("How many employees?") // email question skipped
	if c.s.Vars["email"] != "known@acme.io" {
		t.Fatal("skip_if must not touch the var")
	}
}

func TestRetry(t *testing.T) {
	p := salesProgram(t)
	t.Run("then", func(t *testing.T) {
		c := newChat(t, p)
		c.start(nil, "")
		c.click("Talk to sales")
		c.text("no")
		c.text("still no")
		c.wantSays("That doesn't look like an email.", "What's your work email?")
		c.text("nope")
		c.wantSays("No problem, you can reach us at sales@example.com.")
		c.wantStatus(engine.StatusEnded, "give_up")
		if c.s.Outcome != "abandoned" || c.s.Tries != 0 {
			t.Fatalf("outcome %q tries %d", c.s.Outcome, c.s.Tries)
		}
	})

	b := newBuilder(t, "p", &engine.VarDecl{Name: "phone", Type: engine.TypePhone})
	a := b.ask(b.text("Phone?"), engine.InputPhone, "phone")
	a.Retry.Max = 2
	b.card("q", &engine.Card{Ask: a}, "")
	b.card("done", &engine.Card{Say: b.say("phone: {{ phone ?? 'none' }}")}, "")
	p2 := b.build()
	t.Run("without then it moves on, the var not set", func(t *testing.T) {
		c := newChat(t, p2)
		c.start(nil, "")
		c.text("call me maybe")
		c.wantSays("That doesn't look like a phone number. Please include the area code.", "Phone?")
		c.text("no phone")
		c.wantSays("phone: none")
		c.wantStatus(engine.StatusEnded, "done")
		if c.out[len(c.out)-1].Kind != engine.EffectEnd || c.s.Outcome != "" {
			t.Fatalf("falls off the end with no outcome: %+v", c.out)
		}
	})
	t.Run("a var with a default keeps it", func(t *testing.T) {
		b := newBuilder(t, "p", &engine.VarDecl{Name: "n", Type: engine.TypeInt, Default: 7})
		a := b.ask(b.text("How many?"), engine.InputInt, "n")
		a.Retry.Max = 1
		b.card("q", &engine.Card{Ask: a}, "")
		b.card("done", &engine.Card{Say: b.say("n={{ n }}")}, "")
		c := newChat(t, b.build())
		c.start(nil, "")
		c.text("lots")
		c.wantSays("n=7")
	})
	t.Run("valid", func(t *testing.T) {
		c := newChat(t, p2)
		c.start(nil, "")
		c.text("+1 415  555 0100")
		c.wantSays("phone: +1 415 555 0100")
	})

	t.Run("without retry it asks until answered", func(t *testing.T) {
		b := newBuilder(t, "p", &engine.VarDecl{Name: "d", Type: engine.TypeDate})
		b.card("q", &engine.Card{Ask: b.ask(b.text("When?"), engine.InputDate, "d")}, "")
		c := newChat(t, b.build())
		c.start(nil, "de")
		for range 20 {
			c.text("irgendwann")
			c.wantSays("Please enter a date, like 2026-03-01.", "When?")
		}
		c.wantStatus(engine.StatusWaiting, "q")
	})
}

func TestValidate(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "seats", Type: engine.TypeInt})
	a := b.ask(b.text("Seats?"), engine.InputInt, "seats")
	a.Validate = []engine.Validation{
		{If: b.expr("seats >= 1", engine.TypeBool), Say: b.text("At least 1.")},
		{If: b.expr("seats <= 5000", engine.TypeBool)},
	}
	a.Retry.Say = b.text("Retry say.")
	b.card("q", &engine.Card{Ask: a}, "")
	b.card("done", &engine.Card{Say: b.say("{{ seats }} seats")}, "")
	p := b.build()
	tests := []struct {
		in   string
		says []string
	}{
		{"0", []string{"At least 1.", "Seats?"}},
		{"9000", []string{"Retry say.", "Seats?"}}, // the failing check has no say
		{"2.5", []string{"Retry say.", "Seats?"}},
		{"1.5k", []string{"1500 seats"}},
		{"12", []string{"12 seats"}},
	}
	for _, tt := range tests {
		c := newChat(t, p)
		c.start(nil, "")
		c.text(tt.in)
		c.wantSays(tt.says...)
	}
}

func TestYesNo(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "ok", Type: engine.TypeBool}).locales("en", "en", "es", "fr", "de")
	q := b.card("q", &engine.Card{
		Ask:    b.ask(b.text("en", "OK?", "es", "¿Vale?", "fr", "D'accord ?", "de", "Okay?"), engine.InputYesNo, "ok"),
		Branch: []engine.Branch{{If: b.expr("ok", engine.TypeBool)}, {}},
	}, "")
	b.card("yes", &engine.Card{Say: b.say("yes"), HasEnd: true}, "")
	b.card("no", &engine.Card{Say: b.say("no"), HasEnd: true}, "")
	b.to(&q.Branch[0].Goto, "yes")
	b.to(&q.Branch[1].Goto, "no")
	p := b.build()
	for _, tt := range []struct {
		locale string
		btns   []string
	}{{"en", []string{"Yes", "No"}}, {"es", []string{"Sí", "No"}}, {"fr", []string{"Oui", "Non"}}, {"de", []string{"Ja", "Nein"}}} {
		c := newChat(t, p)
		c.start(nil, tt.locale)
		if got := labels(c.out[0].Buttons); !slices.Equal(got, tt.btns) {
			t.Errorf("%s buttons %q", tt.locale, got)
		}
		if w := find(c.out, engine.EffectWait); w.Input != engine.InputYesNo || w.Buttons[0].Value != "yes" || w.Buttons[1].Value != "no" {
			t.Errorf("wait %+v", w)
		}
	}
	for in, want := range map[string]string{"Sí": "yes", "oui": "yes", "Nein danke": "no", "yes please": "yes", "NO!": "no", "Claro": "yes"} {
		c := newChat(t, p)
		c.start(nil, "")
		c.text(in)
		c.wantSays(want)
	}
	c := newChat(t, p)
	c.start(nil, "fr")
	c.text("peut-être")
	c.wantSays("Veuillez répondre par oui ou par non.", "D'accord ?")
	c.click("no")
	c.wantSays("no")
}

func TestSayImageLinks(t *testing.T) {
	b := newBuilder(t, "p")
	b.card("a", &engine.Card{
		Say:   b.say("one", "two"),
		Image: "/img.png",
		Links: []engine.Link{{Label: b.text("Docs"), URL: "https://docs.example.com"}},
	}, "")
	b.card("b", &engine.Card{Image: "/only.png"}, "")
	c := newChat(t, b.build())
	c.start(nil, "")
	c.wantSays("one", "two", "")
	if c.out[0].Image != "" || c.out[1].Image != "/img.png" || len(c.out[1].Links) != 1 || c.out[1].Links[0] != (engine.LinkOut{Label: "Docs", URL: "https://docs.example.com"}) {
		t.Fatalf("image and links go on the last bubble: %+v", c.out)
	}
	if c.out[2].Image != "/only.png" {
		t.Fatalf("image alone %+v", c.out[2])
	}
	c.wantStatus(engine.StatusEnded, "b")
}

func TestSet(t *testing.T) {
	vars := []*engine.VarDecl{
		{Name: "n", Type: engine.TypeInt},
		{Name: "f", Type: engine.TypeNumber},
		{Name: "s", Type: engine.TypeString},
		{Name: "l", Type: engine.TypeList},
		{Name: "d", Type: engine.TypeDate},
		{Name: "a", Type: engine.TypeAny},
	}
	b := newBuilder(t, "p", vars...)
	b.card("a", &engine.Card{Set: []engine.Assign{
		{Var: "n", Expr: b.expr("2", engine.TypeInt)},
		{Var: "n", Expr: b.expr("n * 3", engine.TypeInt)}, // in order
		{Var: "f", Expr: b.expr("n", engine.TypeNumber)},  // int into number
		{Var: "s", Expr: b.expr("'x' + string(n)", engine.TypeString)},
		{Var: "l", Expr: b.expr("[1, 'two']", engine.TypeList)},
		{Var: "d", Expr: b.expr("now()", engine.TypeDate)},
		{Var: "a", Expr: b.expr("{'k': 1}", engine.TypeAny)},
	}, HasEnd: true}, "")
	c := newChat(t, b.build())
	c.start(nil, "")
	want := map[string]any{"n": 6, "f": 6.0, "s": "x6", "l": []any{1, "two"}, "d": time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), "a": map[string]any{"k": 1}}
	if !reflect.DeepEqual(c.s.Vars, want) {
		t.Fatalf("vars %#v", c.s.Vars)
	}

	t.Run("int var from an integral number", func(t *testing.T) {
		b := newBuilder(t, "p", &engine.VarDecl{Name: "n", Type: engine.TypeInt}, &engine.VarDecl{Name: "f", Type: engine.TypeNumber, Default: 2.0})
		b.card("a", &engine.Card{Set: []engine.Assign{{Var: "n", Expr: b.expr("f * 2", "")}}, HasEnd: true}, "")
		c := newChat(t, b.build())
		c.start(nil, "")
		if c.s.Vars["n"] != 4 {
			t.Fatalf("vars %#v", c.s.Vars)
		}
	})
	t.Run("wrong type is a runtime error", func(t *testing.T) {
		b := newBuilder(t, "p", &engine.VarDecl{Name: "n", Type: engine.TypeInt}, &engine.VarDecl{Name: "f", Type: engine.TypeNumber, Default: 2.5})
		b.card("a", &engine.Card{Set: []engine.Assign{{Var: "n", Expr: b.expr("f", "")}}, HasEnd: true}, "")
		c := newChat(t, b.build())
		c.start(nil, "")
		e := c.wantError("cannot set n: ")
		if e.Card != "a" || e.Pos.Start.Line != 1 {
			t.Fatalf("error %+v", e)
		}
		c.wantStatus(engine.StatusFailed, "a")
		if out := c.text("hi"); len(out) != 0 {
			t.Fatalf("a failed session takes no text: %v", out)
		}
	})
	t.Run("nil unsets", func(t *testing.T) {
		b := newBuilder(t, "p", &engine.VarDecl{Name: "s", Type: engine.TypeString, Default: "x"})
		b.card("a", &engine.Card{Set: []engine.Assign{{Var: "s", Expr: b.expr("nil", "")}}, HasEnd: true}, "")
		c := newChat(t, b.build())
		c.start(nil, "")
		if _, ok := c.s.Vars["s"]; ok {
			t.Fatalf("vars %#v", c.s.Vars)
		}
	})
}

func TestRuntimeErrorInExpression(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "budget", Type: engine.TypeNumber})
	b.card("a", &engine.Card{Say: b.say("ok")}, "")
	b.card("b", &engine.Card{Branch: []engine.Branch{{If: b.expr("budget > 10", engine.TypeBool), Goto: 0}}}, "")
	c := newChat(t, b.build())
	out := c.start(nil, "")
	if got := kinds(out); !slices.Equal(got, []engine.EffectKind{engine.EffectSay, engine.EffectError}) {
		t.Fatalf("effects %v", got)
	}
	e := c.wantError("`budget > 10`")
	if e.Card != "b" || !strings.Contains(e.Error(), "test.yaml:1:1: runtime error in card b") {
		t.Fatalf("error %q", e.Error())
	}
	c.wantStatus(engine.StatusFailed, "b")
}

func TestBranchGotoEnd(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "n", Type: engine.TypeInt, Default: 5})
	a := b.card("a", &engine.Card{Branch: []engine.Branch{
		{If: b.expr("n > 10", engine.TypeBool)},
		{If: b.expr("n > 3", engine.TypeBool)},
	}}, "")
	b.to(&a.Branch[0].Goto, "big")
	b.to(&a.Branch[1].Goto, "mid")
	b.card("small", &engine.Card{Say: b.say("small")}, "")
	b.card("big", &engine.Card{Say: b.say("big"), End: "big", HasEnd: true}, "")
	b.card("mid", &engine.Card{Say: b.say("mid")}, "small")
	p := b.build()
	c := newChat(t, p)
	c.start(nil, "")
	// mid, goto small, which falls to big and ends there
	c.wantSays("mid", "small", "big")
	if c.s.Outcome != "big" || !slices.Equal(c.visited, []int{0, 3, 1, 2}) {
		t.Fatalf("outcome %q visited %v", c.s.Outcome, c.visited)
	}

	c = newChat(t, p)
	c.s.Vars["n"] = 1
	c.start(nil, "")
	c.wantSays("small", "big") // no arm true: the next card

	b = newBuilder(t, "p")
	b.card("a", &engine.Card{Say: b.say("bye"), HasEnd: true}, "")
	c = newChat(t, b.build())
	c.start(nil, "")
	if e := find(c.out, engine.EffectEnd); e == nil || e.Outcome != "" || c.s.Status != engine.StatusEnded {
		t.Fatalf("end: true %+v", c.out)
	}
}

func TestRunawayGuard(t *testing.T) {
	b := newBuilder(t, "p", &engine.VarDecl{Name: "n", Type: engine.TypeInt, Default: 0})
	b.card("a", &engine.Card{Set: []engine.Assign{{Var: "n", Expr: b.expr("n + 1", engine.TypeInt)}}}, "b")
	b.card("b", &engine.Card{}, "a")
	c := newChat(t, b.build())
	c.start(nil, "")
	c.wantError("ran 1000 cards without waiting for the visitor (loop?)")
	c.wantStatus(engine.StatusFailed, "")
	if len(c.visited) != engine.MaxCardsPerStep || c.s.Vars["n"] != 500 {
		t.Fatalf("visited %d cards, n=%v", len(c.visited), c.s.Vars["n"])
	}
}

func TestVersionMismatch(t *testing.T) {
	p := salesProgram(t)
	c := newChat(t, p)
	c.start(nil, "")
	c.s.Version = "old"
	c.click("Talk to sales")
	c.wantError("version old")
	c.wantStatus(engine.StatusWaiting, "welcome")
	if len(c.visited) != 1 {
		t.Fatalf("ran cards on the wrong version: %v", c.visited)
	}
}

func TestEventsOutOfPlace(t *testing.T) {
	p := salesProgram(t)
	c := newChat(t, p)
	// text before start: starts and answers the first question
	c.text("just browsing")
	c.wantSays("Hi there! What brings you here?", "Enjoy! Ping us anytime.")
	if len(c.out) != 4 || c.out[2].Links[0].URL != "/pricing" || c.s.Outcome != "nurture" {
		t.Fatalf("effects %+v", c.out)
	}

	c = newChat(t, p)
	c.start(nil, "")
	for _, ev := range []engine.Event{
		{Kind: engine.EventStart},             // already started
		{Kind: engine.EventTimer, Timer: "x"}, // no timer pending
		{Kind: engine.EventCallResult, Call: &engine.CallResult{ID: "x", Status: 200}},
		{Kind: engine.EventAgentLeft}, // no agent
	} {
		if out := c.step(ev); len(out) != 0 {
			t.Fatalf("%s: effects %+v", ev.Kind, out)
		}
	}
	c.step(engine.Event{Kind: "bogus"})
	c.wantError(`unknown event kind "bogus"`)
	c.wantStatus(engine.StatusWaiting, "welcome")

	if s, out := engine.Step(p, nil, engine.Event{Kind: engine.EventStart}); s != nil || out[0].Kind != engine.EffectError {
		t.Fatalf("nil session: %v %+v", s, out)
	}
	s := engine.NewSession(nil, "x", t0)
	if _, out := engine.Step(nil, s, engine.Event{Kind: engine.EventStart}); out[0].Kind != engine.EffectError {
		t.Fatalf("nil program: %+v", out)
	}
	// a corrupt session does not panic
	s = engine.NewSession(p, "x", t0)
	s.Status, s.Card = engine.StatusWaiting, 99
	if _, out := engine.Step(p, s, engine.Event{Kind: engine.EventText, Text: "x"}); out[0].Kind != engine.EffectError {
		t.Fatalf("bad card: %+v", out)
	}
}

func TestHandoff(t *testing.T) {
	p := salesProgram(t)
	toSales := func(t *testing.T, online int) *chat {
		c := newChat(t, p)
		c.online = map[string]int{"sales": online}
		c.start(nil, "")
		c.click("Talk to sales")
		c.text("bo@globex.com")
		c.text("201+")
		c.text("5000")
		return c
	}

	t.Run("nobody online: offline card at once", func(t *testing.T) {
		c := toSales(t, 0)
		c.wantSays("Our team is away right now. We'll email bo@globex.com within one business day.")
		if find(c.out, engine.EffectHandoff) != nil {
			t.Fatal("no handoff when nobody is online")
		}
		if a := find(c.out, engine.EffectAway); a == nil || *a.Handoff != (engine.HandoffRequest{Team: "sales", Priority: "high"}) {
			t.Fatalf("away effect %+v, want one for team sales", a)
		}
	})

	t.Run("online, then nobody accepts", func(t *testing.T) {
		c := toSales(t, 2)
		c.wantSays("Connecting you with our sales team…")
		c.wantStatus(engine.StatusHandoff, "sales")
		if got := kinds(c.out); !slices.Equal(got, []engine.EffectKind{engine.EffectSay, engine.EffectHandoff, engine.EffectTimer}) {
			t.Fatalf("effects %v", got)
		}
		h, tm := c.out[1].Handoff, c.out[2].Timer
		if *h != (engine.HandoffRequest{Team: "sales", Wait: 2 * time.Minute, Priority: "high"}) {
			t.Fatalf("handoff %+v", h)
		}
		if tm.ID != "s1:5:sales:0" || !tm.At.Equal(t0.Add(2*time.Minute)) || c.s.Timer != tm.ID || c.s.Outcome != "handoff" {
			t.Fatalf("timer %+v session %+v", tm, c.s)
		}
		if out := c.text("hello?"); len(out) != 0 {
			t.Fatalf("the bot is silent during a handoff: %+v", out)
		}
		if out := c.step(engine.Event{Kind: engine.EventTimer, Timer: "other"}); len(out) != 0 {
			t.Fatalf("another timer: %+v", out)
		}
		c.now = t0.Add(2 * time.Minute)
		c.step(engine.Event{Kind: engine.EventTimer, Timer: tm.ID})
		c.wantSays("Our team is away right now. We'll email bo@globex.com within one business day.")
		c.wantStatus(engine.StatusEnded, "capture")
		if c.s.Outcome != "qualified" || c.s.Timer != "" {
			t.Fatalf("session %+v", c.s)
		}
		if a := find(c.out, engine.EffectAway); a != nil {
			t.Fatalf("a missed handoff is no away (the chat was queued): %+v", a)
		}
	})

	t.Run("agent joins and leaves", func(t *testing.T) {
		c := toSales(t, 1)
		timer := c.s.Timer
		c.step(engine.Event{Kind: engine.EventAgentJoined, Agent: "alice"})
		if got := kinds(c.out); !slices.Equal(got, []engine.EffectKind{engine.EffectCancel}) || c.out[0].Timer.ID != timer {
			t.Fatalf("effects %+v", c.out)
		}
		c.wantStatus(engine.StatusAgent, "sales")
		if c.s.Agent != "alice" || c.s.Timer != "" {
			t.Fatalf("session %+v", c.s)
		}
		if out := c.text("what does Pro include?"); len(out) != 0 {
			t.Fatalf("the bot is silent while an agent owns the chat: %+v", out)
		}
		if out := c.step(engine.Event{Kind: engine.EventTimer, Timer: timer}); len(out) != 0 {
			t.Fatalf("a late timer: %+v", out)
		}
		c.step(engine.Event{Kind: engine.EventAgentLeft, Agent: "alice"})
		if got := kinds(c.out); !slices.Equal(got, []engine.EffectKind{engine.EffectEnd}) || c.out[0].Outcome != "handoff" {
			t.Fatalf("effects %+v", c.out)
		}
		c.wantStatus(engine.StatusEnded, "")
	})

	t.Run("agent hands back", func(t *testing.T) {
		c := toSales(t, 1)
		c.step(engine.Event{Kind: engine.EventAgentJoined, Agent: "alice"})
		c.step(engine.Event{Kind: engine.EventResume, Card: "size"})
		c.wantSays("How many employees?")
		c.wantStatus(engine.StatusWaiting, "size")
		if c.s.Agent != "" {
			t.Fatalf("agent %q", c.s.Agent)
		}
		c.step(engine.Event{Kind: engine.EventResume, Card: "nope"})
		c.wantError(`cannot resume at card "nope"`)
		c.wantStatus(engine.StatusWaiting, "size")
	})

	t.Run("resume with no card continues below", func(t *testing.T) {
		c := toSales(t, 1)
		c.step(engine.Event{Kind: engine.EventResume})
		if got := kinds(c.out); !slices.Equal(got, []engine.EffectKind{engine.EffectCancel, engine.EffectSay, engine.EffectCreate, engine.EffectCreate, engine.EffectEnd}) {
			t.Fatalf("effects %v", got)
		}
	})

	t.Run("agent joins without a handoff", func(t *testing.T) {
		c := newChat(t, p)
		c.start(nil, "")
		c.step(engine.Event{Kind: engine.EventAgentJoined, Agent: "bob"})
		if len(c.out) != 0 {
			t.Fatalf("effects %+v", c.out)
		}
		c.wantStatus(engine.StatusAgent, "")
	})
}

// callProgram prices a quote with a call card.
func callProgram(t testing.TB, onError bool) *engine.Program {
	b := newBuilder(t, "quote",
		&engine.VarDecl{Name: "seats", Type: engine.TypeInt, Default: 12},
		&engine.VarDecl{Name: "plan", Type: engine.TypeString},
		&engine.VarDecl{Name: "price", Type: engine.TypeNumber},
		&engine.VarDecl{Name: "count", Type: engine.TypeInt},
		&engine.VarDecl{Name: "currency", Type: engine.TypeString, Default: "USD"},
	)
	call := &engine.Call{
		URL:     b.tmpl("https://api.example.com/v1/quote?seats={{ seats }}"),
		Headers: []engine.Field{field("Accept", &engine.Value{Lit: "application/json"}), field("X-Seats", &engine.Value{Expr: b.expr("seats", "")})},
		Body: []engine.Field{
			field("seats", &engine.Value{Expr: b.expr("seats", "")}),
			{Name: "who", Fields: []engine.Field{field("page", &engine.Value{Expr: b.expr("visitor.page", "")})}},
		},
		Timeout: time.Minute,
		Save: []engine.CallSave{
			{Var: "plan", Path: []string{"plan", "name"}},
			{Var: "price", Path: []string{"price", "monthly"}},
			{Var: "count", Path: []string{"items", "0", "n"}},
			{Var: "currency", Path: []string{"price", "currency"}},
		},
		OnError: -1,
	}
	if onError {
		b.to(&call.OnError, "failed")
	}
	b.card("quote", &engine.Card{Say: b.say("Let me check…"), Call: call}, "")
	b.card("show", &engine.Card{Say: b.say("{{ plan ?? '?' }} at {{ price ?? '?' }} {{ currency ?? '' }} ({{ count ?? '-' }})"), End: "quoted", HasEnd: true}, "")
	b.card("failed", &engine.Card{Say: b.say("Sorry."), End: "failed", HasEnd: true}, "")
	return b.build()
}

func TestCall(t *testing.T) {
	t.Run("request", func(t *testing.T) {
		c := newChat(t, callProgram(t, true))
		c.start(&engine.Visitor{Page: "/pricing"}, "")
		c.wantSays("Let me check…")
		c.wantStatus(engine.StatusCalling, "quote")
		req := find(c.out, engine.EffectCall).Call
		want := &engine.CallRequest{
			ID: "s1:1:quote:0", Method: "POST", URL: "https://api.example.com/v1/quote?seats=12",
			Headers: map[string]string{"Accept": "application/json", "X-Seats": "12"},
			Body:    map[string]any{"seats": 12, "who": map[string]any{"page": "/pricing"}},
			Timeout: engine.MaxCallTimeout,
		}
		if !reflect.DeepEqual(req, want) || c.s.Call != req.ID {
			t.Fatalf("request %+v", req)
		}
		if out := c.text("hurry up"); len(out) != 0 {
			t.Fatalf("text while calling: %+v", out)
		}
		if out := c.step(engine.Event{Kind: engine.EventCallResult, Call: &engine.CallResult{ID: "stale", Status: 200}}); len(out) != 0 {
			t.Fatalf("stale result: %+v", out)
		}
	})

	body := map[string]any{
		"plan":  map[string]any{"name": "Pro"},
		"price": map[string]any{"monthly": "49.5", "currency": "EUR"},
		"items": []any{map[string]any{"n": 3.0}},
	}
	tests := []struct {
		name    string
		onError bool
		res     engine.CallResult
		say     string
		outcome string
	}{
		{"success", true, engine.CallResult{Status: 200, Body: body}, "Pro at 49.5 EUR (3)", "quoted"},
		{"a missing field is a failed call", true, engine.CallResult{Status: 204}, "Sorry.", "failed"},
		{"a missing field of a var with a default keeps it", true, engine.CallResult{Status: 200, Body: map[string]any{"plan": map[string]any{"name": "Pro"}, "price": map[string]any{"monthly": 1.0}, "items": []any{map[string]any{"n": 3.0}}}}, "Pro at 1 USD (3)", "quoted"},
		{"a null field is a failed call", true, engine.CallResult{Status: 200, Body: map[string]any{"plan": map[string]any{"name": nil}, "price": map[string]any{"monthly": 1.0, "currency": "EUR"}, "items": []any{map[string]any{"n": 3.0}}}}, "Sorry.", "failed"},
		{"http error goes to on_error", true, engine.CallResult{Status: 500, Body: body}, "Sorry.", "failed"},
		{"transport error goes to on_error", true, engine.CallResult{Error: "timeout"}, "Sorry.", "failed"},
		{"a field that does not fit is an error", true, engine.CallResult{Status: 200, Body: map[string]any{"plan": map[string]any{"name": []any{}}}}, "Sorry.", "failed"},
		{"no on_error: carry on, vars not set", false, engine.CallResult{Status: 404, Body: body}, "? at ? USD (-)", "quoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChat(t, callProgram(t, tt.onError))
			c.start(nil, "")
			res := tt.res
			res.ID = c.s.Call
			c.step(engine.Event{Kind: engine.EventCallResult, Call: &res})
			c.wantSays(tt.say)
			if c.s.Outcome != tt.outcome || c.s.Call != "" {
				t.Fatalf("session %+v", c.s)
			}
		})
	}
}

func TestGetWithoutBody(t *testing.T) {
	b := newBuilder(t, "p")
	b.card("a", &engine.Card{Call: &engine.Call{URL: b.tmpl("https://api.example.com/x"), OnError: -1}}, "")
	c := newChat(t, b.build())
	c.start(nil, "")
	req := find(c.out, engine.EffectCall).Call
	if req.Method != "GET" || req.Timeout != engine.DefaultCallTimeout || req.Body != nil {
		t.Fatalf("request %+v", req)
	}
}

func TestInclude(t *testing.T) {
	// what dsl makes of `include`: the sub-flow's cards inlined, the include
	// card's Next at the first of them, the last one's Next back.
	b := newBuilder(t, "p", &engine.VarDecl{Name: "name", Type: engine.TypeString})
	b.card("start", &engine.Card{Say: b.say("before"), Include: "contact"}, "contact/ask_name")
	b.card("after", &engine.Card{Say: b.say("after, {{ name }}"), End: "done", HasEnd: true}, "")
	b.card("contact/ask_name", &engine.Card{Ask: b.ask(b.text("Name?"), engine.InputText, "name")}, "")
	b.card("contact/confirm", &engine.Card{Say: b.say("thanks"), Return: true}, "after")
	c := newChat(t, b.build())
	c.start(nil, "")
	c.wantSays("before", "Name?")
	c.text("  Ana ")
	c.wantSays("thanks", "after, Ana")
	if c.s.Outcome != "done" {
		t.Fatalf("outcome %q", c.s.Outcome)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	b := newBuilder(t, "p",
		&engine.VarDecl{Name: "score", Type: engine.TypeInt, Default: 2},
		&engine.VarDecl{Name: "when", Type: engine.TypeDate},
		&engine.VarDecl{Name: "size", Type: engine.TypeString},
	)
	b.card("d", &engine.Card{Ask: b.ask(b.text("When?"), engine.InputDate, "when")}, "")
	b.card("q", &engine.Card{Ask: b.ask(b.text("Size?"), engine.InputText, "size")}, "")
	b.card("r", &engine.Card{
		Set:    []engine.Assign{{Var: "score", Expr: b.expr("score + 1", engine.TypeInt)}},
		Branch: []engine.Branch{{If: b.expr("score == 3 && when > now()", engine.TypeBool), Goto: 3}},
	}, "")
	b.card("s", &engine.Card{Say: b.say("score {{ score }} on {{ when }}"), End: "ok", HasEnd: true}, "")
	p := b.build()

	c := newChat(t, p)
	c.start(&engine.Visitor{Name: "Ana", UTM: map[string]string{"source": "ads"}}, "en")
	c.text("March 3, 2026")
	data, err := json.Marshal(c.s)
	if err != nil {
		t.Fatal(err)
	}
	var s engine.Session
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Vars["score"].(float64); !ok {
		t.Fatalf("expected JSON to turn the int into a float64: %#v", s.Vars)
	}
	c.s = &s
	c.text("big")
	c.wantSays("score 3 on 2026-03-03")
	if c.s.Vars["score"] != 3 || c.s.Vars["when"] != time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("vars %#v", c.s.Vars)
	}
	if _, leaked := c.s.Vars["visitor"]; leaked {
		t.Fatal("the visitor leaked into the vars")
	}
	data2, _ := json.Marshal(c.s)
	if strings.Contains(string(data2), "__world__") {
		t.Fatalf("the world leaked into the session: %s", data2)
	}
}

func TestNewSession(t *testing.T) {
	b := newBuilder(t, "p",
		&engine.VarDecl{Name: "l", Type: engine.TypeList, Default: []any{"a"}},
		&engine.VarDecl{Name: "n", Type: engine.TypeNumber, Default: 3},
		&engine.VarDecl{Name: "u", Type: engine.TypeString},
	)
	b.card("a", &engine.Card{HasEnd: true}, "")
	p := b.build()
	s := engine.NewSession(p, "id", t0)
	if s.Version != p.Hash || s.Playbook != "p" || s.Locale != "en" || !s.StartedAt.Equal(t0) || s.Status != engine.StatusNew {
		t.Fatalf("session %+v", s)
	}
	if !reflect.DeepEqual(s.Vars, map[string]any{"l": []any{"a"}, "n": 3.0}) {
		t.Fatalf("vars %#v", s.Vars)
	}
	s.Vars["l"].([]any)[0] = "changed"
	if p.Vars[0].Default.([]any)[0] != "a" {
		t.Fatal("sessions share the default list")
	}
}

func TestVisitorAndWorldInExpressions(t *testing.T) {
	b := newBuilder(t, "p")
	b.card("a", &engine.Card{Say: b.say(
		"{{ visitor.name }}|{{ visitor.utm['source'] }}|{{ visitor.returning }}|{{ visitor.visits }}",
		"{{ agents_online('sales') }}|{{ open_hours('sales') }}|{{ open_hours('support') }}|{{ now() }}",
	), HasEnd: true}, "")
	c := newChat(t, b.build())
	c.online = map[string]int{"sales": 3}
	c.open = map[string]bool{"sales": true}
	c.start(&engine.Visitor{Name: "Ana", UTM: map[string]string{"source": "ads"}, Returning: true, Visits: 4}, "")
	c.wantSays("Ana|ads|true|4", "3|true|false|2026-01-05")
}

// TestConcurrentSessions steps many sessions of one program at once: the
// program is shared and the pooled runners must not leak between them.
func TestConcurrentSessions(t *testing.T) {
	p := salesProgram(t)
	done := make(chan string)
	for i := range 8 {
		go func() {
			s := engine.NewSession(p, "s", t0)
			email := "v" + string(rune('a'+i)) + "@acme.io"
			var out []engine.Effect
			for _, ev := range []engine.Event{
				{Kind: engine.EventStart},
				{Kind: engine.EventButton, Button: "Talk to sales"},
				{Kind: engine.EventText, Text: email},
				{Kind: engine.EventText, Text: "201+"},
				{Kind: engine.EventText, Text: "2500"},
			} {
				ev.Now = t0
				s, out = engine.Step(p, s, ev)
			}
			got := ""
			if say := find(out, engine.EffectSay); say != nil {
				got = say.Text
			}
			if s.Vars["email"] != email || s.Outcome != "qualified" {
				got = "wrong session state"
			}
			done <- got + "|" + email
		}()
	}
	for range 8 {
		r := <-done
		got, email, _ := strings.Cut(r, "|")
		if want := "Our team is away right now. We'll email " + email + " within one business day."; got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
