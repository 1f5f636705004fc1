package playtest

import (
	"path/filepath"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
)

// The example playbooks load without errors under today's checker and
// their tests pass: a new rule of the checker must not break them
// unnoticed.
func TestShippedPlaybooks(t *testing.T) {
	set, diags := dsl.LoadPaths("../playbooks")
	if diags.HasErrors() {
		t.Fatalf("the example playbooks do not load:\n%v", diags)
	}
	files, err := filepath.Glob("../playbooks/*/*.test.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files: %v", err)
	}
	rep := RunFiles(set, files, Options{})
	if passed, failed := rep.Counts(); !rep.OK() || failed > 0 || passed == 0 {
		t.Fatalf("passed %d, failed %d, diagnostics %v", passed, failed, rep.Diagnostics)
	}
}
