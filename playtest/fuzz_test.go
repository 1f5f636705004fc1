package playtest

import "testing"

// FuzzParse checks that no test file, however broken, makes Parse panic,
// and that every diagnostic has a position.
func FuzzParse(f *testing.F) {
	f.Add([]byte(goodFile))
	f.Add([]byte("playbook: x\ntests:\n  - name: a\n    script: [{bot: /(/}, {wait: x}]\n"))
	f.Add([]byte("tests: &a [*a]\n"))
	f.Add([]byte("- - -\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		_, diags := Parse("f.test.yaml", src)
		for _, d := range diags {
			if d.Subject.Filename != "f.test.yaml" {
				t.Fatalf("diagnostic without the file: %v", d)
			}
		}
		ParseMocks("m.yaml", src)
	})
}
