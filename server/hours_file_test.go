package server_test

import (
	"github.com/playbook-dev/playbook/internal/servertest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// The opening hours a playbook folder's hours.yaml declares are the ones
// serve answers open_hours() with, as `playbook test` and `chat` do (issue
// 15): on a Wednesday at noon UTC sales (Mon-Fri 09-18) is open and
// support (Saturdays only) is closed, although serve's own default says
// every team is always open.
func TestServeReadsTheHoursFile(t *testing.T) {
	rds := redistest.New(t)
	dir := t.TempDir()
	files := map[string]string{
		"hours.yaml": "hours:\n  sales:\n    zone: UTC\n    mon-fri: 09:00-18:00\n  support:\n    zone: UTC\n    sat: 10:00-14:00\n",
		"check.yaml": `playbook: check
cards:
  start:
    say: Checking.
    branch:
      - if: open_hours("sales") and not open_hours("support")
        goto: right
      - goto: wrong
  right:
    say: sales open, support closed
    end: right
  wrong:
    say: not what hours.yaml says
    end: wrong
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	wednesdayNoon := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ts := startServer(t, rds, dir, func(c *servertest.Config) { c.Now = func() time.Time { return wednesdayNoon } })
	v := dial(t, ts)
	v.start("check")
	v.bot("Checking.")
	v.bot("sales open, support closed")
}
