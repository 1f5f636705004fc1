package server_test

import (
	"encoding/json"
	"github.com/playbook-dev/playbook/internal/servertest"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// adminPost posts a playbook to the admin API and returns the status and
// the decoded answer.
func adminPost(t *testing.T, ts *testServer, query, file, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.url+"/api/playbooks"+query, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("X-Playbook-File", file)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("answer %s: %v", b, err)
	}
	return resp.StatusCode, out
}

// TestActivateRefusesADuplicateID: a playbook that reuses the id of one
// already served from another file is refused before anything is written,
// with the diagnostic; the folder still loads and the old version keeps
// serving. Replacing a playbook through its own file name still works.
func TestActivateRefusesADuplicateID(t *testing.T) {
	rds := redistest.New(t)
	dir := t.TempDir()
	hello := "playbook: hello\ncards:\n  a:\n    say: Hello, version one\n    end: done\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, rds, dir, func(c *servertest.Config) { c.AdminToken = "s3cret" })

	impostor := "playbook: hello\ncards:\n  a:\n    say: Hello from the impostor\n    end: done\n"
	for _, q := range []string{"", "?activate=true"} {
		code, out := adminPost(t, ts, q, "another.yaml", impostor)
		diags, _ := json.Marshal(out["diagnostics"])
		if code != http.StatusConflict || out["ok"] != false || out["activated"] == true || !strings.Contains(string(diags), `playbook id \"hello\" is also used by`) || !strings.Contains(string(diags), "hello.yaml") {
			t.Fatalf("POST%s a second file with id hello: %d %v, want 409, ok false, a diagnostic naming hello.yaml", q, code, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "another.yaml")); err == nil {
		t.Fatal("the refused playbook was written to the folder")
	}
	if _, diags := dsl.LoadPaths(dir); diags.HasErrors() {
		t.Fatalf("the folder no longer loads: %v", diags)
	}
	c := dial(t, ts)
	c.start("hello")
	c.bot("Hello, version one")

	// The same id through its own file replaces it.
	v2 := strings.Replace(hello, "version one", "version two", 1)
	code, out := adminPost(t, ts, "?activate=true", "hello.yaml", v2)
	if code != 200 || out["activated"] != true {
		t.Fatalf("replacing hello.yaml: %d %v", code, out)
	}
	c2 := dial(t, ts)
	c2.start("hello")
	c2.bot("Hello, version two")
}
