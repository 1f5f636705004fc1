package dsl_test

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

// head is prepended to every case's cards.
const head = `playbook: t
allow_hosts: [api.example.com]
vars:
  email: {type: email}
  budget: {type: number}
  size: {type: string}
  n: {type: int, default: 0}
cards:
`

// TestChecks gives each rule of the checker a small playbook and the
// diagnostic it must produce: "line:col: severity: message". Lines count
// from the top of head (cards start on line 9).
func TestChecks(t *testing.T) {
	tests := []struct {
		name  string
		cards string
		want  string
	}{
		{"goto only, to itself", "  a:\n    goto: a\n", "9:3: error: these cards can loop forever without waiting for the visitor: a → a"},
		{"does nothing", "  a: {}\n", "9:3: error: card \"a\" does nothing"},
		{"empty card", "  a:\n", "9:3: error: card \"a\" is empty"},
		{"two kinds", "  a:\n    ask: Email?\n    save: email\n    input: email\n    handoff: {team: sales, offline: b}\n  b:\n    end: x\n", "9:3: error: card \"a\" has two kinds: ask and handoff"},
		{"unknown card key", "  a:\n    sya: hi\n", "10:5: error: unknown key \"sya\" in card \"a\" (did you mean \"say\"?)"},
		{"goto unknown", "  a:\n    say: hi\n    goto: bb\n  b:\n    end: x\n", "11:11: error: goto: there is no card \"bb\" (did you mean \"b\"?)"},
		{"branch unknown", "  a:\n    say: hi\n    branch: [{goto: zz}]\n", "11:21: error: branch goto: there is no card \"zz\""},
		{"offline unknown", "  a:\n    handoff: {team: sales, offline: capure}\n  capture:\n    end: x\n", "10:37: error: handoff.offline: there is no card \"capure\" (did you mean \"capture\"?)"},
		{"retry then unknown", "  a:\n    ask: Email?\n    input: email\n    save: email\n    retry: {max: 2, then: nope}\n", "13:27: error: retry.then: there is no card \"nope\""},
		{"on_error unknown", "  a:\n    call: {url: \"https://api.example.com/x\", on_error: oops}\n", "10:56: error: on_error: there is no card \"oops\""},
		{"handoff without offline", "  a:\n    handoff: {team: sales}\n", "10:5: error: handoff has no `offline` card"},
		{"save undeclared", "  a:\n    ask: Name?\n    save: name\n", "11:11: error: save: \"name\" is not a declared var"},
		{"save wrong type", "  a:\n    ask: Budget?\n    input: number\n    save: size\n", "12:11: error: save: var \"size\" is a string, but the answer to this question is a number"},
		{"set wrong type", "  a:\n    set: {n: '\"many\"'}\n", "10:15: error: expression is a string, but an int is needed here"},
		{"set undeclared", "  a:\n    set: {score: 1}\n", "10:11: error: set: \"score\" is not a declared var"},
		{"type error", "  a:\n    branch: [{if: budget > \"many\", goto: a}]\n", "10:26: error: in expression: invalid operation: > (mismatched types number and string)"},
		{"unknown name", "  a:\n    branch: [{if: budgte > 1, goto: a}]\n", "10:19: error: unknown name \"budgte\": it is not a declared var or a built-in (did you mean \"budget\"?)"},
		{"visitor field", "  a:\n    say: \"Hi {{ visitor.nmae }}\"\n", "10:25: error: visitor has no field \"nmae\" (did you mean \"name\"?)"},
		{"condition not bool", "  a:\n    branch: [{if: budget + 1, goto: a}]\n", "10:19: error: in expression: expected bool, but got number"},
		{"template unclosed", "  a:\n    say: \"Hi {{ email \"\n", "10:14: error: template: `{{` is never closed with `}}`"},
		{"template bad expr", "  a:\n    say: \"Hi {{ email + }}\"\n", "10:23: error: in expression: unexpected token EOF"},
		{"template in block scalar", "  a:\n    say: |\n      Hello\n      {{ emial }}\n", "12:10: error: unknown name \"emial\""},
		{"duplicate labels", "  a:\n    say: Pick\n    choices: [Yes please, \"yes  PLEASE\"]\n", "11:27: error: duplicate choice label \"yes  PLEASE\""},
		{"accent duplicate labels", "  a:\n    say: Pick\n    choices: [Sí, si]\n", "11:19: error: duplicate choice label \"si\""},
		{"loop", "  a:\n    say: hi\n  b:\n    say: again\n    goto: a\n", "9:3: error: these cards can loop forever without waiting for the visitor: a → b → a"},
		{"self loop", "  a:\n    set: {n: n + 1}\n    goto: a\n", "9:3: error: these cards can loop forever without waiting for the visitor: a → a"},
		{"loop through skip_if", "  a:\n    ask: Email?\n    save: email\n    input: email\n    skip_if: email != nil\n    goto: a\n", "9:3: error: these cards can loop forever"},
		{"loop with ask is fine", "  a:\n    ask: Email?\n    save: email\n    input: email\n    goto: a\n", ""},
		{"unreachable", "  a:\n    end: x\n  b:\n    say: hi\n", "11:3: warning: card \"b\" is never reached"},
		{"unused var", "  a:\n    end: x\n", "4:3: warning: var \"email\" is never used"},
		{"read before set", "  a:\n    say: \"{{ upper(email) }}\"\n  b:\n    ask: Email?\n    input: email\n    save: email\n", "10:20: error: var \"email\" may have no value here"},
		{"guarded by a condition", "  a:\n    say: \"{{ email != nil ? upper(email) : 'you' }} {{ email == nil or len(email) > 3 }}\"\n  b:\n    ask: Email?\n    input: email\n    save: email\n", ""},
		{"guarded the wrong way", "  a:\n    say: \"{{ email == nil ? upper(email) : 'you' }}\"\n  b:\n    ask: Email?\n    input: email\n    save: email\n", "10:35: error: var \"email\" may have no value here"},
		{"validate reads the answer", "  a:\n    ask: Budget?\n    input: number\n    save: budget\n    validate: {if: budget > 0, say: More}\n    set: {n: 'int(budget)'}\n", ""},
		{"set after skip_if", "  a:\n    ask: Budget?\n    skip_if: n > 1\n    input: number\n    save: budget\n    set: {n: 'int(budget)'}\n", "14:19: error: var \"budget\" may have no value here"},
		{"call with on_error sets its vars", "  a:\n    call: {url: \"https://api.example.com/x\", save: {budget: b}, on_error: c}\n    branch: [{if: budget > 1, goto: b}]\n  b:\n    say: \"{{ budget * 2 }}\"\n    end: x\n  c:\n    end: y\n", ""},
		{"undeclared save gives one error", "  a:\n    ask: Budget?\n    input: number\n    save: budgte\n  b:\n    say: \"{{ budget * 2 }}\"\n", "12:11: error: save: \"budgte\" is not a declared var (did you mean \"budget\"?)"},
		{"a whole hole may be unset", "  a:\n    say: \"{{ email }}\"\n  b:\n    ask: Email?\n    input: email\n    save: email\n", ""},
		{"guarded read", "  a:\n    say: \"{{ email ?? 'you' }}\"\n  b:\n    ask: Email?\n    input: email\n    save: email\n", ""},
		{"bad duration", "  a:\n    handoff: {team: sales, wait: soon, offline: b}\n  b:\n    end: x\n", "10:34: error: handoff.wait: invalid duration \"soon\""},
		{"host not allowed", "  a:\n    call: {url: \"https://evil.example.net/x\"}\n", "10:17: error: host \"evil.example.net\" is not in allow_hosts"},
		{"unknown record field", "  a:\n    create: {lead: {title: x, vaule: 3}}\n", "10:31: error: unknown key \"vaule\" in lead (did you mean \"value\"?)"},
		{"missing lead title", "  a:\n    create: {lead: {value: 3}}\n", "10:14: error: a lead needs `title:`"},
		{"unknown input", "  a:\n    ask: Mail?\n    input: emal\n", "11:12: error: unknown input type \"emal\" (did you mean \"email\"?)"},
		{"include without resolver", "  a:\n    include: faq\n", "10:14: error: cannot include \"faq\""},
		{"duplicate card", "  a:\n    say: hi\n  a:\n    say: again\n", "11:3: error: card \"a\" is defined twice: here and at line 9"},
		{"end then goto", "  a:\n    end: x\n    goto: a\n", "11:5: warning: goto never runs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := head + tt.cards
			_, diags := dsl.Load("t.yaml", []byte(src))
			var lines []string
			for _, d := range diags {
				lines = append(lines, d.Error())
			}
			all := strings.Join(lines, "\n")
			if tt.want == "" {
				for _, d := range diags {
					if d.Severity.String() == "error" || strings.Contains(d.Summary, "loop") {
						t.Errorf("unexpected diagnostic: %s", d.Error())
					}
				}
				return
			}
			if !strings.Contains(all, "t.yaml:"+tt.want) {
				t.Errorf("want diagnostic\n  t.yaml:%s\ngot:\n  %s", tt.want, strings.ReplaceAll(all, "\n", "\n  "))
			}
		})
	}
}

// TestFieldValues pins which create-field values are text and which are
// expressions.
func TestFieldValues(t *testing.T) {
	src := head + `  a:
    create:
      task:
        subject: follow-up
        type: We'll call
        note: 1-10
        due: 2026-03-01
        assignee: round_robin("sales")
      deal:
        title: Deal
        value: (budget ?? 0) * 12
        stage: Qualified
`
	prog, diags := dsl.Load("t.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	kinds := map[string]string{}
	for _, cr := range prog.Cards[0].Create {
		for _, f := range cr.Fields {
			switch {
			case f.Value.Expr != nil:
				kinds[f.Name] = "expr"
			case f.Value.Tmpl != nil:
				kinds[f.Name] = "template"
			default:
				kinds[f.Name] = "text"
			}
		}
	}
	want := map[string]string{"subject": "text", "type": "text", "note": "text", "due": "text", "assignee": "expr", "title": "text", "value": "expr", "stage": "text"}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("%s is %s, want %s", k, kinds[k], v)
		}
	}
	_, diags = dsl.Load("t.yaml", []byte(head+"  a:\n    create: {deal: {title: x, value: budjet * 12}}\n"))
	if !strings.Contains(diags.Error(), `unknown name "budjet"`) {
		t.Errorf("a typo in an expression field is not reported: %v", diags)
	}
}

// TestOneMistakeOneDiagnostic: a typo in a var or card name is reported
// once, without "never reached", "never used" or "may have no value"
// diagnostics that only follow from it.
func TestOneMistakeOneDiagnostic(t *testing.T) {
	const vars = "playbook: t\nvars:\n  budget: {type: number}\ncards:\n"
	tests := []struct{ name, cards, want string }{
		{"undeclared save", "  a:\n    ask: Budget?\n    input: number\n    save: budgte\n  b:\n    say: \"{{ budget * 2 }}\"\n", `save: "budgte" is not a declared var`},
		{"undeclared set", "  a:\n    set: {budgte: 3}\n  b:\n    say: \"{{ budget * 2 }}\"\n", `set: "budgte" is not a declared var`},
		{"broken goto", "  a:\n    ask: Budget?\n    input: number\n    save: budget\n    goto: sumary\n  other:\n    say: hi\n  summary:\n    say: \"{{ budget * 2 }}\"\n    end: x\n", `goto: there is no card "sumary"`},
		{"unknown name", "  a:\n    say: \"{{ bugdet * 2 }}\"\n", `unknown name "bugdet"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := dsl.Load("t.yaml", []byte(vars+tt.cards))
			if len(diags) == 0 || !strings.Contains(diags[0].Summary, tt.want) {
				t.Fatalf("want %q first, got %v", tt.want, diags)
			}
			if len(diags) != 1 {
				t.Errorf("want one diagnostic, got %d:\n%v", len(diags), diags)
			}
		})
	}
}

// TestAnyVarWhereADateIsNeeded: an `any` var passed to format() is
// refused in plain words with the fix, not in expr's ("cannot use nil as
// argument (type date) to call Format").
func TestAnyVarWhereADateIsNeeded(t *testing.T) {
	src := "playbook: t\nvars:\n  v: any\ncards:\n  a:\n    say: '{{ format(v, \"long\") }}'\n    end: done\n"
	_, diags := dsl.Load("t.yaml", []byte(src))
	var lines []string
	for _, d := range diags {
		lines = append(lines, d.Error()+"\n"+d.Detail)
	}
	got := strings.Join(lines, "\n")
	want := "6:21: error: format() needs a date here, and this value may hold anything while chatting"
	if !strings.Contains(got, want) || strings.Contains(got, "nil") || strings.Contains(got, "Format") {
		t.Fatalf("got:\n%s\nwant it to contain:\n%s", got, want)
	}
	if !strings.Contains(got, "format(date(x) ?? today(), ...)") {
		t.Fatalf("the fix is missing:\n%s", got)
	}
}

// TestVarLabels: a var's label is plain text or a map of the playbook's
// locales; engine.VarLabel picks the locale's, else the default's; a
// label with a template, an unknown locale or nothing in it is refused.
func TestVarLabels(t *testing.T) {
	src := `playbook: t
locale: en
locales: [en, es]
fallback: en
vars:
  company_size: {type: string, label: {en: Company size, es: Tamaño de la empresa}}
  score: {type: int, default: 0, label: Lead score}
  budget: number
cards:
  a:
    ask: "Size? {{ score }} {{ budget ?? 0 }}"
    save: company_size
`
	p, diags := dsl.Load("t.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	byName := map[string]*engine.VarDecl{}
	for _, v := range p.Vars {
		byName[v.Name] = v
	}
	for _, tc := range []struct{ v, locale, want string }{
		{"company_size", "es-ES", "Tamaño de la empresa"},
		{"company_size", "de", "Company size"},
		{"score", "es", "Lead score"},
		{"budget", "en", ""},
	} {
		if got := engine.VarLabel(p, byName[tc.v], tc.locale); got != tc.want {
			t.Errorf("VarLabel(%s, %s) = %q, want %q", tc.v, tc.locale, got, tc.want)
		}
	}
	for _, tc := range []struct{ label, want string }{
		{`"Size {{ company_size }}"`, `6:39: error: label of var "company_size" is plain text: it names the var and shows no values`},
		{`{en: Size, fr: Taille}`, `6:50: error: label of var "company_size": "fr" is not one of the playbook's locales (en, es)`},
		{`""`, `6:39: error: label of var "company_size" is empty`},
		{`[a]`, `6:39: error: label of var "company_size" must be a text or a map of locales to texts, not a list`},
	} {
		bad := strings.Replace(src, "{en: Company size, es: Tamaño de la empresa}", tc.label, 1)
		_, diags := dsl.Load("t.yaml", []byte(bad))
		if !strings.Contains(diags.Error(), tc.want) {
			t.Errorf("label %s: %v, want %q", tc.label, diags, tc.want)
		}
	}
}
