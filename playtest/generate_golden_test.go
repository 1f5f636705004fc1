package playtest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestGenerateGolden proposes a test for every edge of each playbook in
// testdata/generate and compares the drafts with the .golden file beside
// it. Conditions on a var that a question saves get the answer that takes
// the edge (a choice, a number around the literal compared with, yes or
// no); the rest stay TODO. Run with -update to rewrite them.
func TestGenerateGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/generate/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no playbooks: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			p := load(t, string(src))
			got := FormatProposals(Generate(p, p.Edges()))
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./playtest -run TestGenerateGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("drafts differ from %s:\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}
