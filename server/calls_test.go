package server_test

import (
	"fmt"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestCallCardsStayInside checks the call policy against a local API:
// loopback is refused unless the server allows private addresses, and a
// redirect is not followed.
func TestCallCardsStayInside(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			// Followed, this would succeed: the test sees that it is not.
			http.Redirect(w, r, "/plans", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"plan": "pro"}`)
	}))
	defer api.Close()
	port := strings.TrimPrefix(api.URL, "http://127.0.0.1:")
	dir := t.TempDir()
	book := `playbook: caller
allow_hosts: [localhost]
vars:
  plan: string
cards:
  ask-path:
    ask: Which path?
    save: plan
  fetch:
    call:
      url: "http://localhost:` + port + `/{{ plan }}"
      save: {plan: plan}
      on_error: failed
  ok:
    say: "Plan {{ plan }}"
    end: ok
  failed:
    say: The call failed
    end: failed
`
	os.WriteFile(filepath.Join(dir, "caller.yaml"), []byte(book), 0o644)
	for _, tt := range []struct {
		name    string
		private bool
		path    string
		want    string
	}{
		{"loopback refused", false, "plans", "The call failed"},
		{"loopback allowed", true, "plans", "Plan pro"},
		{"redirect not followed", true, "redirect", "The call failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rds := redistest.New(t)
			ts := startServer(t, rds, dir, func(c *servertest.Config) { c.Calls.AllowPrivate = tt.private })
			c := dial(t, ts)
			c.start("caller")
			c.bot("Which path?")
			c.say("m1", tt.path)
			c.bot(tt.want)
		})
	}
}
