package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

func TestWriteExperiment(t *testing.T) {
	row := func(variant, counter string, n int64) store.FunnelRow {
		return store.FunnelRow{FunnelKey: store.FunnelKey{Day: "2026-01-05", Playbook: "newsletter-ab", Version: "v1", Variant: variant}, Counter: counter, Count: n}
	}
	rows := []store.FunnelRow{
		row("newsletter-opener=direct", "variant|newsletter-opener", 1000),
		row("newsletter-opener=direct", "outcome|subscribed", 100),
		row("newsletter-opener=direct", "outcome|declined", 900),
		row("newsletter-opener=friendly", "variant|newsletter-opener", 1000),
		row("newsletter-opener=friendly", "outcome|subscribed", 200),
		row("newsletter-opener=friendly", "outcome|declined", 800),
		row("newsletter-opener=friendly", "record|person", 200),
	}
	var b strings.Builder
	rows = append(rows, // another playbook's experiment of the same name is apart
		store.FunnelRow{FunnelKey: store.FunnelKey{Day: "2026-01-05", Playbook: "other", Version: "v9", Variant: "newsletter-opener=direct"}, Counter: "variant|newsletter-opener", Count: 7})
	if err := writeExperiments(&b, rows, "newsletter-opener"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"experiment newsletter-opener of newsletter-ab: 2000 conversations in 2 variants",
		"experiment newsletter-opener of other: 7 conversations in 1 variant",
		"outcome subscribed:\n  direct    100 of 1000  10.0 %  95 % CI 8.3–12.0 %\n  friendly  200 of 1000  20.0 %  95 % CI 17.6–22.6 %  best\n",
		"outcome declined:\n  direct    900 of 1000  90.0 %  95 % CI 88.0–91.7 %  best\n",
		"made a person:\n  direct    0 of 1000    0.0 %   95 % CI 0.0–0.4 %\n  friendly  200 of 1000  20.0 %  95 % CI 17.6–22.6 %  best\n",
		"Wilson score interval",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if err := writeExperiments(&b, rows, "pricing"); err == nil || !strings.Contains(err.Error(), `experiment "pricing"`) {
		t.Errorf("an unknown experiment: %v", err)
	}
}

// TestStatsExperiment: conversations of the example A/B playbook on a data
// directory; `playbook stats` prints a funnel per variant and the
// comparison, --experiment only the comparison, with each variant's
// count as counted here; an experiment nobody went into is an error.
func TestStatsExperiment(t *testing.T) {
	t.Setenv("PLAYBOOK_REDIS_URL", "")
	dir := filepath.Join(t.TempDir(), "data")
	db, err := embedded.Open(dir, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	app, err := conversation.NewApp(embedded.NewEngine(db), conversation.Options{Playbooks: "../../playbooks/experiments",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	svc := app.Service()
	prog, ok := app.Registry().Current("newsletter-ab")
	if !ok {
		t.Fatal("no newsletter-ab")
	}
	count := map[string]int{}
	no := map[string]string{"direct": "No", "friendly": "No thanks"}
	for i := range 30 {
		sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: prog, Visitor: engine.Visitor{ID: fmt.Sprintf("v_%d", i)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := sess.Variants["newsletter-opener"]
		count[v]++
		entry := &store.Entry{From: "visitor", Kind: "message", Text: no[v], ClientID: "c1", At: time.Now().UTC()}
		if _, _, err := svc.Turn(ctx, sess.ID, "c1", engine.Event{Kind: engine.EventButton, Button: no[v]}, entry); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.Settle(ctx); err != nil { // the turns' folds, before the store closes
		t.Fatal(err)
	}
	db.Close()
	if count["direct"] == 0 || count["friendly"] == 0 {
		t.Fatalf("30 visitors went into one variant: %v", count)
	}

	code, out, errs := playbookRun(t, "stats", "--data", dir, "--experiment", "newsletter-opener")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		`(?m)^experiment newsletter-opener of newsletter-ab: 30 conversations in 2 variants$`,
		fmt.Sprintf(`(?m)^  direct +%d conversations`, count["direct"]),
		fmt.Sprintf(`(?m)^outcome declined:\n  direct +%d of %d +100\.0 %% +95 %% CI [0-9.]+–100\.0 %%\n  friendly +%d of %d +100\.0 %%`, count["direct"], count["direct"], count["friendly"], count["friendly"]),
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("stats --experiment printed\n%s\nwant a line matching %s", out, want)
		}
	}
	t.Logf("playbook stats --experiment newsletter-opener:\n%s", out)
	if strings.Contains(out, "CARD") {
		t.Errorf("--experiment printed the funnels too:\n%s", out)
	}
	code, out, errs = playbookRun(t, "stats", "--data", dir)
	if code != 0 || !strings.Contains(out, "newsletter-ab variant newsletter-opener=direct, version") || !strings.Contains(out, "experiment newsletter-opener of newsletter-ab") {
		t.Errorf("stats: exit %d\n%s%s", code, out, errs)
	}
	if code, _, errs := playbookRun(t, "stats", "--data", dir, "--experiment", "pricing"); code == 0 || !strings.Contains(errs, `experiment "pricing"`) {
		t.Errorf("an unknown experiment: exit %d, %q", code, errs)
	}
}
