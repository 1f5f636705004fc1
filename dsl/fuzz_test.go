package dsl_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// FuzzLoad feeds arbitrary bytes to the loader: it must never panic or
// hang, and it must return a program exactly when there are no errors.
// Seeds are the example playbooks and the diagnostics test files; found
// crashers land in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../playbooks/*/*.yaml", "testdata/diagnostics/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			if src, err := os.ReadFile(file); err == nil {
				f.Add(src)
			}
		}
	}
	f.Add([]byte("playbook: x\ncards:\n  a:\n    say: hi\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		prog, diags := dsl.Load("fuzz.yaml", src)
		if (prog == nil) != diags.HasErrors() {
			t.Fatalf("program %v with errors=%v: %v", prog != nil, diags.HasErrors(), diags)
		}
		for _, d := range diags {
			if d.Subject.Filename != "fuzz.yaml" {
				t.Fatalf("diagnostic without the file name: %v", d)
			}
		}
	})
}
