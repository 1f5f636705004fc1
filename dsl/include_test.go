package dsl_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestIncludeInlinesSubFlow(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.yaml": `playbook: main
vars:
  email: {type: email}
cards:
  hello:
    say: Hi
  details:
    include: contact
    goto: thanks
  skipped:
    say: never reached
  thanks:
    say: "Thanks {{ email }}"
    end: done
`,
		"contact.yaml": `playbook: contact
vars:
  email: {type: email}
  name: {type: string}
cards:
  ask-name:
    ask: Your name?
    save: name
  ask-email:
    ask: "Your email, {{ name }}?"
    input: email
    save: email
`,
	})
	set, diags := dsl.LoadPaths(dir)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	main := set.ByID["main"]
	if main == nil || set.ByID["contact"] == nil {
		t.Fatalf("loaded %v", set.ByID)
	}
	var names []string
	for _, c := range main.Cards {
		names = append(names, c.Name)
	}
	want := "hello details details/ask-name details/ask-email skipped thanks"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("cards = %q, want %q", got, want)
	}
	details, _ := main.Card("details")
	askEmail, _ := main.Card("details/ask-email")
	thanks, _ := main.Card("thanks")
	if main.Cards[details.Next].Name != "details/ask-name" {
		t.Errorf("include card goes to %q", main.Cards[details.Next].Name)
	}
	if askEmail.Next != thanks.Index || !askEmail.Return {
		t.Errorf("sub-flow's last card returns to %d (return=%v), want thanks (%d)", askEmail.Next, askEmail.Return, thanks.Index)
	}
	if _, ok := main.Var("name"); !ok {
		t.Error("the sub-flow's var name is not merged into main")
	}
	if len(main.Files) != 2 {
		t.Errorf("files = %v", main.Files)
	}
	if main.Hash == set.ByID["contact"].Hash {
		t.Error("main's hash does not cover its own source")
	}
	// The warning for the skipped card names main.yaml.
	found := false
	for _, d := range diags {
		found = found || strings.Contains(d.Error(), "main.yaml:10:3: warning: card \"skipped\" is never reached")
	}
	if !found {
		t.Errorf("no unreachable warning for skipped: %v", diags)
	}
}

func TestIncludeErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "playbook: a\ncards:\n  x:\n    include: b\n",
		"b.yaml": "playbook: b\ncards:\n  y:\n    include: a\n",
		"c.yaml": "playbook: c\ncards:\n  z:\n    include: bb\n",
		"d.yaml": "playbook: d\nvars:\n  n: {type: int}\ncards:\n  w:\n    set: {n: 1}\n    include: e\n",
		"e.yaml": "playbook: e\nvars:\n  n: {type: string}\ncards:\n  v:\n    set: {n: '\"x\"'}\n",
	})
	_, diags := dsl.LoadPaths(dir)
	all := diags.Error()
	for _, want := range []string{
		"b.yaml:4:14: error: include cycle: a → b → a",
		"c.yaml:4:14: error: no playbook with id \"bb\" to include (did you mean \"b\"?)",
		"e.yaml:3:3: error: var \"n\" is string here but int in",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
}
