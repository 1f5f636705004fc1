package server_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestPIIStaysOutOfTheLog runs a conversation whose playbook fails at run
// time on a personal-data var: the log names the card and position but not
// the email, and pages are logged without their query string.
func TestPIIStaysOutOfTheLog(t *testing.T) {
	rds := redistest.New(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "pii.yaml"), []byte(`playbook: pii
vars:
  email: {type: email, pii: true}
  n: number
cards:
  ask-email:
    ask: Email?
    input: email
    save: email
  boom:
    set: {n: 'len(repeat(email, 100000000))'}
    end: done
`), 0o644)
	ts := startServer(t, rds, dir)
	c := dial(t, ts)
	c.send(map[string]any{"type": "start", "playbook": "pii", "page": "/signup?email=ana.secret@acme.io"})
	c.next("welcome")
	c.bot("Email?")
	c.say("m1", "ana.secret@acme.io")
	c.entryOf("error", "system")
	log := ts.log.String()
	if !strings.Contains(log, "playbook runtime error") || !strings.Contains(log, "card=boom") || !strings.Contains(log, "pii.yaml:11") {
		t.Fatalf("the log lacks the runtime error:\n%s", log)
	}
	if strings.Contains(log, "ana.secret") {
		t.Fatalf("the log contains the visitor's email:\n%s", log)
	}
}
