package server_test

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestServerImportsOnlyTheTransportsPackages guards issue 12's rule: the
// server is transport only; it talks to the services (conversation) in
// protocol types, and never to the stores, the inbox, the CRM, the engine
// or transcripts directly. Test files may import anything.
func TestServerImportsOnlyTheTransportsPackages(t *testing.T) {
	const module = "github.com/playbook-dev/playbook/"
	allowed := []string{"conversation", "protocol", "access", "dsl", "dsl/source", "server/web"}
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		name, ours := strings.CutPrefix(imp, module)
		if !ours || slices.Contains(allowed, name) || strings.HasPrefix(name, "internal/") {
			continue
		}
		t.Errorf("package server imports %s; it may import only %v and internal/... of this module (the services speak protocol types)", name, allowed)
	}
}
