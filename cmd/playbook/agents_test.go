package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store/embedded"
)

// playbookRun runs the command line in this process and returns its exit
// code, stdout and stderr.
func playbookRun(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

// TestAgentsOnTheEmbeddedStore: without --redis, `playbook agents` keeps
// agents in the embedded store of --data: they are there for the next
// process (a sign-in and an API token work on the reopened directory), a
// duplicate email is refused, and a directory held by another process
// (a running server) gets an error naming it.
func TestAgentsOnTheEmbeddedStore(t *testing.T) {
	t.Setenv("PLAYBOOK_REDIS_URL", "") // the default of --redis
	dir := filepath.Join(t.TempDir(), "data")
	must := func(want string, args ...string) string {
		t.Helper()
		code, out, errs := playbookRun(t, append(args, "--data", dir)...)
		if code != 0 {
			t.Fatalf("playbook %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("playbook %s printed %q, want %s", strings.Join(args, " "), out, want)
		}
		return out
	}
	must(`^added Sam <sam@example.com>, agent of sales\n$`, "agents", "add", "--email", "Sam@Example.com", "--name", "Sam", "--team", "sales", "--password", "correct horse")
	out := must(`(?m)^password: [a-z2-7]{16} `, "agents", "add", "--email", "kim@example.com", "--name", "Kim", "--team", "sales,support", "--role", "admin")
	kimPassword := regexp.MustCompile(`password: (\S+)`).FindStringSubmatch(out)[1]
	code, _, errs := playbookRun(t, "agents", "add", "--data", dir, "--email", "SAM@example.com", "--name", "Sam 2", "--password", "correct horse")
	if code == 0 || !strings.Contains(errs, "already exists: an agent with email sam@example.com") {
		t.Fatalf("a second sam: exit %d, %q", code, errs)
	}
	must(`^team sales: round_robin routing, capacity 2, reopen never, hours mon-fri 09:00-18:00 Europe/Berlin\n$`, "agents", "teams", "--team", "sales", "--routing", "round_robin", "--capacity", "2", "--hours", "mon-fri 09:00-18:00 Europe/Berlin")
	// Without --hours the team keeps its hours (an admin may have set them in the inbox).
	must(`^team sales: round_robin routing, capacity 2, reopen never, hours mon-fri 09:00-18:00 Europe/Berlin\n$`, "agents", "teams", "--team", "sales", "--routing", "round_robin", "--capacity", "2")
	if code, _, errs := playbookRun(t, "agents", "teams", "--data", dir, "--team", "sales", "--routing", "round_robin", "--hours", "weekdays 9-5"); code == 0 || !strings.Contains(errs, "--hours: ") || !strings.Contains(errs, "is not a day") {
		t.Fatalf("bad hours: exit %d, %q", code, errs)
	}
	must(`(?s)^NAME +EMAIL +ROLE +TEAMS +PRESENCE\nKim +kim@example.com +admin +sales,support +offline\nSam +sam@example.com +agent +sales +offline\n$`, "agents", "list")
	tok := strings.TrimSpace(must(`^pbt_[a-z2-7]+\n$`, "agents", "token", "--email", "sam@example.com"))
	if code, _, errs := playbookRun(t, "agents", "token", "--data", dir, "--email", "nobody@example.com"); code == 0 || !strings.Contains(errs, `no agent with email "nobody@example.com"`) {
		t.Fatalf("a token for nobody: exit %d, %q", code, errs)
	}
	expiring := strings.TrimSpace(must(`^pbt_[a-z2-7]+\n$`, "agents", "token", "--email", "sam@example.com", "--name", "export", "--expires", "720h"))
	// Newest first; both were made within the same second here, in either order.
	out = must(`^ID +AGENT +NAME +CREATED +EXPIRES\n([0-9a-f]{64} +sam@example.com +(export +\S+ +20\d\d-\S+|\S+ +never)\n){2}$`, "agents", "tokens")
	if !regexp.MustCompile(`(?m)export +\S+ +20\d\d-`).MatchString(out) || !regexp.MustCompile(`(?m)never$`).MatchString(out) {
		t.Fatalf("tokens: %q, want the export token with its expiry and one that never expires", out)
	}
	expiringID := regexp.MustCompile(`(?m)^([0-9a-f]{64}) +sam@example.com +export`).FindStringSubmatch(out)[1]
	must(`^revoked API token `+expiringID+`\n$`, "agents", "revoke", "--id", expiringID)
	if code, _, errs := playbookRun(t, "agents", "revoke", "--data", dir, "--id", expiringID); code == 0 || !strings.Contains(errs, "no API token with id") {
		t.Fatalf("revoked twice: exit %d, %q", code, errs)
	}
	must(`^disabled Kim <kim@example.com>\n$`, "agents", "disable", "--email", "kim@example.com")
	must(`(?m)^Kim +kim@example.com +admin +sales,support +offline +disabled\n`, "agents", "list")
	must(`^enabled Kim <kim@example.com>\n$`, "agents", "enable", "--email", "kim@example.com")
	must(`^new password for Kim <kim@example.com>; their sessions ended\npassword: [a-z2-7]{16} `, "agents", "password", "--email", "kim@example.com")
	out = must(`^new password for Kim`, "agents", "password", "--email", "kim@example.com", "--password", "kims new password")
	kimPassword = "kims new password"
	must(`^added Bob <bob@example.com>`, "agents", "add", "--email", "bob@example.com", "--name", "Bob", "--password", "correct horse")
	must(`^removed Bob <bob@example.com>\n$`, "agents", "remove", "--email", "bob@example.com")

	// The next process sees them.
	db, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := handoff.NewStore(embedded.NewInbox(db), handoff.Options{})
	ctx := context.Background()
	if a, err := st.AgentByAPIToken(ctx, tok); err != nil || a.Email != "sam@example.com" {
		t.Fatalf("the token's agent: %+v, %v", a, err)
	}
	if _, err := st.AgentByAPIToken(ctx, expiring); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("the revoked token: %v", err)
	}
	if _, err := st.AgentByEmail(ctx, "bob@example.com"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("removed bob: %v", err)
	}
	if sess, err := st.Login(ctx, "kim@example.com", kimPassword, "127.0.0.1"); err != nil || sess.Agent.Role != handoff.RoleAdmin {
		t.Fatalf("kim signs in with the generated password: %+v, %v", sess, err)
	}
	if cfg, err := st.TeamConfigOf(ctx, "sales"); err != nil || cfg.Routing != handoff.RoundRobin || cfg.Capacity != 2 || cfg.Hours != "mon-fri 09:00-18:00 Europe/Berlin" {
		t.Fatalf("sales routing: %+v, %v", cfg, err)
	}

	// While this process holds the directory, the command is refused
	// with the directory's name.
	code, _, errs = playbookRun(t, "agents", "list", "--data", dir)
	if code == 0 || !strings.Contains(errs, dir) || !strings.Contains(errs, "in use by another process") {
		t.Fatalf("agents on a directory in use: exit %d, %q", code, errs)
	}
}
