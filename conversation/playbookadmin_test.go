package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
)

// TestPlaybookUpload: a test file or a non-YAML name is refused (400); a
// playbook with errors is 422 with its diagnostics; a second file with a
// served id is 409 and nothing is written, checked or activated alike;
// the same id through its own file goes live. The answer encodes as the
// admin API always wrote it.
func TestPlaybookUpload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	hello := "playbook: hello\ncards:\n  a:\n    say: Hello, version one\n    end: done\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := conversation.NewRegistry(dir, newMemVersions(), quiet(), time.Now)
	if _, err := reg.Reload(ctx, true); err != nil {
		t.Fatal(err)
	}

	for _, name := range []string{"hello.test.yaml", "notes.txt", "../../etc/x.json"} {
		if res, err := reg.Upload(ctx, name, []byte(hello), false); res != nil || status(err) != http.StatusBadRequest {
			t.Errorf("upload as %q: %+v, %v; want 400", name, res, err)
		}
	}
	if name, err := conversation.PlaybookFile(""); err != nil || name != "playbook.yaml" {
		t.Errorf("no file name: %q, %v; want playbook.yaml", name, err)
	}
	if name, err := conversation.PlaybookFile("../../x/sales.yml"); err != nil || name != "sales.yml" {
		t.Errorf("a path: %q, %v; want its base name", name, err)
	}

	res, err := reg.Upload(ctx, "broken.yaml", []byte("playbook: broken\ncards:\n  a:\n    goto: nowhere\n"), false)
	if status(err) != http.StatusUnprocessableEntity || res == nil || res.OK || len(res.Diagnostics) == 0 || res.ID != "" {
		t.Fatalf("a playbook with errors: %+v, %v; want 422 with diagnostics", res, err)
	}

	impostor := strings.Replace(hello, "version one", "the impostor", 1)
	for _, activate := range []bool{false, true} {
		res, err := reg.Upload(ctx, "another.yaml", []byte(impostor), activate)
		if status(err) != http.StatusConflict || res == nil || res.OK || res.Activated == nil || *res.Activated || res.Error == "" {
			t.Fatalf("a second file with id hello (activate %v): %+v, %v; want 409", activate, res, err)
		}
		b, _ := json.Marshal(res)
		old, _ := json.Marshal(map[string]any{"ok": false, "activated": false, "diagnostics": res.Diagnostics,
			"error": conversation.ErrPlaybookConflict.Error(), "id": "hello", "version": res.Version})
		if string(b) != string(old) {
			t.Fatalf("the conflict encodes as\n%s\nwant\n%s", b, old)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "another.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused playbook was written: %v", err)
	}

	res, err = reg.Upload(ctx, "hello.yaml", []byte(strings.Replace(hello, "one", "two", 1)), false)
	if err != nil || !res.OK || res.Activated != nil || res.ID != "hello" {
		t.Fatalf("checking a new version: %+v, %v", res, err)
	}
	if b, _ := json.Marshal(res); strings.Contains(string(b), "activated") || !strings.Contains(string(b), `"diagnostics":[]`) {
		t.Fatalf("a check encodes as %s; want no activated, diagnostics []", b)
	}
	res, err = reg.Upload(ctx, "hello.yaml", []byte(strings.Replace(hello, "one", "two", 1)), true)
	if err != nil || !res.OK || res.Activated == nil || !*res.Activated {
		t.Fatalf("activating a new version: %+v, %v", res, err)
	}
	if p, ok := reg.Current("hello"); !ok || p.Hash != res.Version {
		t.Fatalf("the new version is not live: %+v", p)
	}
}
