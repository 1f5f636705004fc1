package main

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestStatsOnTheEmbeddedStore: conversations run on a data directory;
// `playbook stats` on it prints their funnel, --csv its counters, and a
// bad --since is refused in plain words.
func TestStatsOnTheEmbeddedStore(t *testing.T) {
	t.Setenv("PLAYBOOK_REDIS_URL", "")
	dir := filepath.Join(t.TempDir(), "data")
	db, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	statsScenario(t, embedded.NewEngine(db), func() { db.Close() }, "--data", dir)
}

// TestStatsOnRedis: the same on --redis.
func TestStatsOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Redis: not under -short")
	}
	rds := redistest.New(t)
	t.Setenv("PLAYBOOK_REDIS_URL", "")
	statsScenario(t, redisstore.NewEngine(rds.Client, rds.Prefix), func() {}, "--redis", rds.URL, "--prefix", rds.Prefix)
}

// statsScenario runs three conversations on eng, calls done, and checks
// what playbook stats (with the store flags) prints.
func statsScenario(t *testing.T, eng store.Engine, done func(), flags ...string) {
	t.Helper()
	app, err := conversation.NewApp(eng, conversation.Options{Playbooks: "../../playbooks/bench",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := app.Service()
	prog, ok := app.Registry().Current("qualify")
	if !ok {
		t.Fatal("no qualify")
	}
	say := func(conv, id, text string, ev engine.Event) {
		t.Helper()
		entry := &store.Entry{From: "visitor", Kind: "message", Text: text, ClientID: id, At: time.Now().UTC()}
		if _, _, err := svc.Turn(ctx, conv, id, ev, entry); err != nil {
			t.Fatal(err)
		}
	}
	for i, choice := range []string{"Just browsing", "Talk to sales", "Talk to sales"} {
		sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: prog}, nil)
		if err != nil {
			t.Fatal(err)
		}
		say(sess.ID, "c1", choice, engine.Event{Kind: engine.EventButton, Button: choice})
		if i == 1 {
			say(sess.ID, "c2", "ana@acme.io", engine.Event{Kind: engine.EventText, Text: "ana@acme.io"})
		}
	}
	if err := svc.Settle(ctx); err != nil { // the turns' folds, before the store closes
		t.Fatal(err)
	}
	done()

	run := func(args ...string) (int, string, string) {
		return playbookRun(t, append(append([]string{"stats"}, flags...), args...)...)
	}
	code, out, errs := run()
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		`(?m)^qualify, version [0-9a-f]{8}: 3 conversations started \d{4}-\d\d-\d\d to \d{4}-\d\d-\d\d$`,
		`(?m)^  outcomes: browsing 1 \(33%\)$`,
		`(?m)^  hello +choices +3 +3 +3 +- +≤ [0-9.]+ s +- +-$`,
		`(?m)^  browsing +end +1 +- +- +- +- +- +1$`,
		`(?m)^  email +ask +2 +2 +1 +1 +≤ [0-9.]+ s +- +-$`,
		`(?m)^  size +choices +1 +1 +- +1 +- +- +-$`,
		`(?m)^  budget +ask +0 +- +- +- +- +- +-$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stats printed\n%s\nwant a line matching %s", out, want)
		}
	}
	code, out, errs = run("--csv", "--playbook", "qualify")
	if code != 0 {
		t.Fatalf("--csv: exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(out, "day,playbook,version,variant,metric,card,detail,count\n") ||
		!regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d,qualify,[0-9a-f]{64},,reached,email,,2$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d,qualify,[0-9a-f]{64},,outcome,,browsing,1$`).MatchString(out) {
		t.Errorf("--csv printed\n%s", out)
	}
	if code, out, _ := run("--since", "2999-01-01"); code != 0 || out != "no conversations counted yet\n" {
		t.Errorf("since a day to come: exit %d, %q", code, out)
	}
	if code, _, errs := run("--since", "yesterday"); code != 2 || !strings.Contains(errs, "since must be a day as YYYY-MM-DD") {
		t.Errorf("a bad --since: exit %d, %q", code, errs)
	}
}
