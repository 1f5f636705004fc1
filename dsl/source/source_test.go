package source

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRenderSortsAndPointsAtColumns(t *testing.T) {
	src := []byte("cards:\n  a:\n    goto: emial\n    say: \"héllo {{ x }}\"\n")
	var ds Diagnostics
	ds.Warnf(Range{Filename: "f.yaml", Start: Pos{4, 19}, End: Pos{4, 20}}, "var %q may be read before it is set", "x")
	d := ds.Errorf(Range{Filename: "f.yaml", Start: Pos{3, 11}, End: Pos{3, 16}}, "goto: there is no card %q", "emial")
	d.Detail = `did you mean "email"?`
	ds.Sort()
	var b strings.Builder
	Render(&b, Files{"f.yaml": src}, ds)
	want := `f.yaml:3:11: error: goto: there is no card "emial"
    3 |     goto: emial
      |           ^~~~~
      = did you mean "email"?
f.yaml:4:19: warning: var "x" may be read before it is set
    4 |     say: "héllo {{ x }}"
      |                   ^
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if !ds.HasErrors() || len(ds.Errs()) != 1 {
		t.Errorf("HasErrors/Errs wrong: %v", ds)
	}
	if ds.Error() != `f.yaml:3:11: error: goto: there is no card "emial" (did you mean "email"?)` {
		t.Errorf("Error() = %q", ds.Error())
	}
}

func TestDiagnosticJSON(t *testing.T) {
	d := &Diagnostic{Severity: Warning, Summary: "m", Subject: At("f.yaml", 2, 3)}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"severity":"warning","message":"m","range":{"file":"f.yaml","start":{"line":2,"column":3},"end":{"line":2,"column":3}}}`
	if string(b) != want {
		t.Errorf("json = %s\nwant   %s", b, want)
	}
	var back Diagnostic
	if err := json.Unmarshal(b, &back); err != nil || back.Severity != Warning {
		t.Errorf("round trip = %+v %v", back, err)
	}
}

func TestSuggest(t *testing.T) {
	cands := []string{"say", "ask", "choices", "handoff", "email", "company_size"}
	for in, want := range map[string]string{
		"sya":         "say",     // swapped letters
		"choises":     "choices", // one substitution
		"handof":      "handoff", // one deletion
		"compny_size": "company_size",
		"zzz":         "",
		"email":       "", // exact names are not suggested
		"completely":  "",
	} {
		if got := Suggest(in, cands); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
