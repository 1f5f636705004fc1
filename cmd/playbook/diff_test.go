package main

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
)

const diffOld = `playbook: d
locales: [en, de]
vars:
  email: email
cards:
  hi:
    say: {en: Hi!, de: Hallo!}
    choices:
      - {label: {en: Sales, de: Vertrieb}, goto: email}
      - {label: {en: Browse, de: Stöbern}, goto: bye}
  email:
    ask: {en: Email?, de: E-Mail?}
    input: email
    save: email
    retry: {max: 2, then: bye}
  deal:
    say: {en: "Thanks {{ email }}", de: "Danke {{ email }}"}
    create: {deal: {title: "{{ email }}"}}
    end: qualified
  bye:
    say: {en: Bye, de: Tschüss}
    end: nurture
`

func loadSrc(t *testing.T, src string) *engine.Program {
	t.Helper()
	p, diags := dsl.Load("d.yaml", []byte(src))
	if p == nil {
		t.Fatal(diags)
	}
	return p
}

func TestDiff(t *testing.T) {
	old := loadSrc(t, diffOld)
	for _, tc := range []struct {
		name, from, to string
		want           []string
	}{
		{"the deal path is cut", "    retry: {max: 2, then: bye}\n", "    retry: {max: 2, then: bye}\n    goto: bye\n", []string{
			"outcomes:\n  - qualified (no way through ends with it now)",
			"  - no longer a way through: hi → email → deal (it created a deal; qualified)",
			"  - no way through creates a deal any more",
		}},
		{"a path now makes a lead too", "    create: {deal: {title: \"{{ email }}\"}}\n", "    create: [{deal: {title: \"{{ email }}\"}}, {lead: {title: x}}]\n", []string{
			"  + now creates a lead: hi → email → deal",
			"  + a way through now creates a lead",
		}},
		{"a text changed in one locale", "Tschüss", "Auf Wiedersehen", []string{
			"texts:\n  bye say [de]: \"Tschüss\" → \"Auf Wiedersehen\"",
		}},
		{"a choice label and an outcome renamed", "    end: nurture\n", "    end: browsing\n", []string{
			"  - nurture (no way through ends with it now)\n  + browsing",
			"hi → bye: nurture → browsing",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(diffOld, tc.from) {
				t.Fatalf("%q is not in the playbook", tc.from)
			}
			cur := loadSrc(t, strings.Replace(diffOld, tc.from, tc.to, 1))
			var b strings.Builder
			n := writeDiff(&b, old, cur)
			if n == 0 {
				t.Fatalf("no difference found")
			}
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("missing\n%s\nin\n%s", w, b.String())
				}
			}
		})
	}
	var b strings.Builder
	if n := writeDiff(&b, old, loadSrc(t, diffOld)); n != 0 || b.Len() != 0 {
		t.Errorf("the same playbook differs: %d\n%s", n, b.String())
	}
}
