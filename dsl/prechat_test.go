package dsl_test

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// TestPrechatChecks gives each mistake in a pre-chat form the diagnostic
// it must produce, with its line and column.
func TestPrechatChecks(t *testing.T) {
	const cards = "cards:\n  email:\n    ask: Email?\n    input: email\n    save: email\n    skip_if: visitor.email != \"\"\n  done:\n    end: x\nvars:\n  email: email\n"
	tests := []struct {
		name, prechat, want string
	}{
		{"unknown field", "prechat:\n  emial: required\n", "3:3: error: unknown key \"emial\" in prechat (did you mean \"email\"?)"},
		{"bad shorthand", "prechat:\n  phone: mandatory\n", "3:10: error: prechat.phone must be optional, required or {label, required}, not \"mandatory\""},
		{"consent without label", "prechat:\n  consent: required\n", "3:3: error: the consent box needs a label"},
		{"no field", "prechat:\n  intro: Hello\n", "2:1: error: the pre-chat form has no field"},
		{"required not bool", "prechat:\n  name: {required: yes please}\n", "3:20: error: required must be true or false, not \"yes please\""},
		{"unknown field key", "prechat:\n  name: {lable: Name}\n", "3:10: error: unknown key \"lable\" in prechat.name (did you mean \"label\"?)"},
		{"not a mapping", "prechat: [email]\n", "2:10: error: prechat must be a mapping of keys"},
		{"fine", "prechat:\n  intro: Before we start\n  name: optional\n  email: {label: Work email, required: true}\n  phone: true\n  consent: {label: I agree to be contacted, required: true}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "playbook: t\n" + tt.prechat + cards
			_, diags := dsl.Load("t.yaml", []byte(src))
			var lines []string
			for _, d := range diags {
				lines = append(lines, d.Error())
			}
			all := strings.Join(lines, "\n")
			if tt.want == "" {
				if diags.HasErrors() {
					t.Fatalf("want no error, got:\n%s", all)
				}
				return
			}
			if !strings.Contains(all, "t.yaml:"+tt.want) {
				t.Errorf("want diagnostic\n  t.yaml:%s\ngot:\n  %s", tt.want, strings.ReplaceAll(all, "\n", "\n  "))
			}
		})
	}
}

// TestPrechatCompiled checks the form reaches the program in order, with
// its labels and required flags, and that visitor.phone and
// visitor.consent type-check.
func TestPrechatCompiled(t *testing.T) {
	src := `playbook: t
prechat:
  intro: Before we start
  email: {label: Work email, required: true}
  name: optional
  consent: {label: I agree, required: true}
cards:
  a:
    say: "Hi {{ visitor.name ?? 'there' }} {{ visitor.phone ?? '-' }}"
    branch:
      - {if: visitor.consent, goto: b}
      - {goto: b}
  b:
    end: x
`
	prog, diags := dsl.Load("t.yaml", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pc := prog.Prechat
	if pc == nil || pc.Intro == nil {
		t.Fatalf("prechat = %+v, want a form with an intro", pc)
	}
	var got []string
	for _, f := range pc.Fields {
		got = append(got, f.Name+map[bool]string{true: "!", false: ""}[f.Required]+map[bool]string{true: "+label", false: ""}[f.Label != nil])
	}
	if want := "email!+label name consent!+label"; strings.Join(got, " ") != want {
		t.Errorf("fields = %q, want %q", strings.Join(got, " "), want)
	}
	if p, _ := dsl.Load("t.yaml", []byte("playbook: t\ncards:\n  a:\n    end: x\n")); p.Prechat != nil {
		t.Errorf("a playbook without prechat has a form: %+v", p.Prechat)
	}
}
