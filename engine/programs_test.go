package engine_test

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// builder assembles a Program by hand, the way package dsl would, so the
// engine can be tested without the YAML compiler. Card references are by
// name and resolved by build.
type builder struct {
	tb    testing.TB
	p     *engine.Program
	env   *engine.Env
	refs  []ref
	gotos map[string]string // card -> goto target ("" = the card below)
}

type ref struct {
	dst  *int
	name string
}

// newBuilder starts a program with id and vars. Locales default to [en].
func newBuilder(tb testing.TB, id string, vars ...*engine.VarDecl) *builder {
	tb.Helper()
	p := &engine.Program{ID: id, Hash: "hash-" + id, Locale: "en", Locales: []string{"en"}, Vars: vars}
	return &builder{tb: tb, p: p, env: engine.NewEnv(vars), gotos: map[string]string{}}
}

func (b *builder) locales(def string, all ...string) *builder {
	b.p.Locale, b.p.Locales = def, all
	return b
}

func (b *builder) fallback(l string) *builder {
	b.p.Fallback = l
	return b
}

// expr compiles src; want "" accepts any type.
func (b *builder) expr(src string, want engine.Type) *engine.Expr {
	b.tb.Helper()
	prog, err := b.env.Compile(src, want)
	if err != nil {
		b.tb.Fatalf("compile %q: %v", src, err)
	}
	return &engine.Expr{Src: src, Prog: prog, Pos: source.At("test.yaml", 1, 1)}
}

// tmpl compiles a template with {{ expr }} holes.
func (b *builder) tmpl(s string) *engine.Template {
	b.tb.Helper()
	if !strings.Contains(s, "{{") {
		return &engine.Template{Static: s, IsStatic: true, Parts: []engine.Part{{Lit: s}}}
	}
	t := &engine.Template{}
	for s != "" {
		i := strings.Index(s, "{{")
		if i < 0 {
			t.Parts = append(t.Parts, engine.Part{Lit: s})
			break
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			b.tb.Fatalf("unclosed hole in %q", s)
		}
		src := strings.TrimSpace(s[i+2 : i+j])
		t.Parts = append(t.Parts, engine.Part{Lit: s[:i], Expr: b.expr(src, "")})
		s = s[i+j+2:]
	}
	return t
}

// text makes a Text: text("Hi") in the default locale, or
// text("en", "Hi", "es", "Hola").
func (b *builder) text(s ...string) *engine.Text {
	b.tb.Helper()
	t := &engine.Text{ByLocale: map[string]*engine.Template{}}
	if len(s) == 1 {
		t.ByLocale[b.p.Locale] = b.tmpl(s[0])
		return t
	}
	for i := 0; i+1 < len(s); i += 2 {
		t.ByLocale[s[i]] = b.tmpl(s[i+1])
	}
	return t
}

func (b *builder) say(s ...string) []*engine.Text {
	out := make([]*engine.Text, len(s))
	for i, x := range s {
		out[i] = b.text(x)
	}
	return out
}

// ask makes a question with no retry limit.
func (b *builder) ask(prompt *engine.Text, input engine.InputType, save string) *engine.Ask {
	return &engine.Ask{Prompt: prompt, Input: input, Save: save, Retry: engine.Retry{Then: -1}}
}

// choice makes a choice; value "" defaults to the label in the default
// locale; gotoName "" continues with the card's flow.
func (b *builder) choice(label *engine.Text, value, gotoName string) *engine.Choice {
	if value == "" {
		value = label.ByLocale[b.p.Locale].Static
	}
	ch := &engine.Choice{Label: label, Value: value, Goto: -1}
	b.to(&ch.Goto, gotoName)
	return ch
}

func (b *builder) choices(labels ...string) []*engine.Choice {
	out := make([]*engine.Choice, len(labels))
	for i, l := range labels {
		out[i] = b.choice(b.text(l), "", "")
	}
	return out
}

// to makes *dst the index of card name when built ("" leaves it).
func (b *builder) to(dst *int, name string) {
	if name != "" {
		b.refs = append(b.refs, ref{dst, name})
	}
}

// card adds a card; gotoName "" falls through to the card below.
func (b *builder) card(name string, c *engine.Card, gotoName string) *engine.Card {
	c.Name = name
	c.Pos = source.At("test.yaml", len(b.p.Cards)+10, 3)
	b.p.Cards = append(b.p.Cards, c)
	b.gotos[name] = gotoName
	return c
}

func (b *builder) build() *engine.Program {
	b.tb.Helper()
	idx := map[string]int{}
	for i, c := range b.p.Cards {
		idx[c.Name] = i
	}
	for _, r := range b.refs {
		i, ok := idx[r.name]
		if !ok {
			b.tb.Fatalf("no card %q", r.name)
		}
		*r.dst = i
	}
	for i, c := range b.p.Cards {
		c.Next = -1
		if g := b.gotos[c.Name]; g != "" {
			n, ok := idx[g]
			if !ok {
				b.tb.Fatalf("no card %q", g)
			}
			c.Next = n
		} else if i+1 < len(b.p.Cards) {
			c.Next = i + 1
		}
	}
	return engine.NewProgram(b.p)
}

func field(name string, v *engine.Value) engine.Field { return engine.Field{Name: name, Value: v} }

// salesProgram is the playbook of DSL.md ("A whole playbook"), in English
// and Spanish, built by hand.
func salesProgram(tb testing.TB) *engine.Program {
	b := newBuilder(tb, "website-sales",
		&engine.VarDecl{Name: "email", Type: engine.TypeEmail, PII: true},
		&engine.VarDecl{Name: "company_size", Type: engine.TypeString},
		&engine.VarDecl{Name: "budget", Type: engine.TypeNumber},
		&engine.VarDecl{Name: "score", Type: engine.TypeInt, Default: 0},
	).locales("en", "en", "es").fallback("en")

	b.card("welcome", &engine.Card{
		Say: []*engine.Text{b.text(
			"en", "Hi {{ visitor.name == '' ? 'there' : visitor.name }}! What brings you here?",
			"es", "¡Hola{{ visitor.name == '' ? '' : ' ' + visitor.name }}! ¿Qué te trae por aquí?")},
		Ask: &engine.Ask{Input: engine.InputChoice, Retry: engine.Retry{Then: -1}, Choices: []*engine.Choice{
			b.choice(b.text("en", "Talk to sales", "es", "Hablar con ventas"), "", "email"),
			b.choice(b.text("en", "Just browsing", "es", "Solo estoy mirando"), "", "browsing"),
		}},
	}, "")

	b.card("browsing", &engine.Card{
		Say:    []*engine.Text{b.text("en", "Enjoy! Ping us anytime.", "es", "¡Disfruta! Escríbenos cuando quieras.")},
		Links:  []engine.Link{{Label: b.text("en", "See plans", "es", "Ver planes"), URL: "/pricing"}},
		End:    "nurture",
		HasEnd: true,
	}, "")

	email := b.ask(b.text("en", "What's your work email?", "es", "¿Cuál es tu correo de trabajo?"), engine.InputEmail, "email")
	email.SkipIf = b.expr("email != nil", engine.TypeBool)
	email.Retry = engine.Retry{Max: 3, Say: b.text("That doesn't look like an email.")}
	b.to(&email.Retry.Then, "give_up")
	b.card("email", &engine.Card{Ask: email}, "")

	size := b.ask(b.text("How many employees?"), engine.InputChoice, "company_size")
	size.Choices = b.choices("1-10", "11-50", "51-200", "201+")
	b.card("size", &engine.Card{Ask: size}, "")

	budget := b.ask(b.text("Monthly budget in USD?"), engine.InputNumber, "budget")
	budget.Validate = []engine.Validation{{If: b.expr("budget > 0", engine.TypeBool), Say: b.text("Please enter an amount above zero.")}}
	bc := b.card("budget", &engine.Card{
		Ask: budget,
		Set: []engine.Assign{{Var: "score", Expr: b.expr(`(company_size in ["51-200", "201+"] ? 2 : 0) + (budget >= 1000 ? 1 : 0)`, engine.TypeInt)}},
		Branch: []engine.Branch{
			{If: b.expr("score >= 2", engine.TypeBool)},
			{},
		},
	}, "")
	b.to(&bc.Branch[0].Goto, "sales")
	b.to(&bc.Branch[1].Goto, "nurture")

	h := &engine.Handoff{Team: "sales", Say: b.text("Connecting you with our sales team…"), Wait: 2 * time.Minute, Priority: "high"}
	b.to(&h.Offline, "capture")
	b.card("sales", &engine.Card{Handoff: h}, "")

	b.card("capture", &engine.Card{
		Say: b.say("Our team is away right now. We'll email {{ email }} within one business day."),
		Create: []*engine.Create{
			{Kind: engine.RecordLead, Fields: []engine.Field{
				field("title", &engine.Value{Tmpl: b.tmpl("{{ email }} ({{ company_size }})")}),
				{Name: "person", Fields: []engine.Field{field("email", &engine.Value{Tmpl: b.tmpl("{{ email }}")})}},
				field("value", &engine.Value{Expr: b.expr("budget * 12", engine.TypeNumber)}),
				field("currency", &engine.Value{Lit: "USD"}),
				field("owner", &engine.Value{Expr: b.expr(`round_robin("sales")`, engine.TypeString)}),
			}},
			{Kind: engine.RecordTask, Fields: []engine.Field{
				field("subject", &engine.Value{Tmpl: b.tmpl("Call back {{ email }}")}),
				field("due", &engine.Value{Expr: b.expr(`now() + duration("24h")`, engine.TypeAny)}),
			}},
		},
		End: "qualified", HasEnd: true,
	}, "")

	b.card("nurture", &engine.Card{
		Say: b.say("Thanks! We'll send you a few resources."),
		Create: []*engine.Create{{Kind: engine.RecordTask, Fields: []engine.Field{
			field("subject", &engine.Value{Tmpl: b.tmpl("Send nurture pack to {{ email ?? 'visitor' }}")}),
		}}},
		End: "disqualified", HasEnd: true,
	}, "")

	b.card("give_up", &engine.Card{
		Say: b.say("No problem, you can reach us at sales@example.com."),
		End: "abandoned", HasEnd: true,
	}, "")
	return b.build()
}
