package dsl_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestDiagnosticsGolden loads each playbook in testdata/diagnostics and
// compares the rendered diagnostics (positions, messages, caret snippets)
// with the .golden file beside it. Run with -update to rewrite them.
func TestDiagnosticsGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/diagnostics/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test playbooks: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(file)
			_, diags := dsl.Load(name, src)
			var got bytes.Buffer
			source.Render(&got, source.Files{name: src}, diags)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./dsl -update)", err)
			}
			if got.String() != string(want) {
				t.Errorf("diagnostics differ from %s:\n--- got\n%s\n--- want\n%s", golden, got.String(), want)
			}
		})
	}
}
