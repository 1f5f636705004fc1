package conversation_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

const abTest = `playbook: ab
cards:
  hello:
    experiment: greeting
    variants:
      - {name: short, goto: short}
      - {name: long, goto: long}
  short:
    say: Hi!
    end: done
  long:
    say: Hello, how can we help you today?
    end: done
`

// TestVariantEntries: the variant a conversation goes into is a "variant"
// entry and is on its end entry, for the funnel; the widget sees neither.
func TestVariantEntries(t *testing.T) {
	f := newFixture(t, 0, 0)
	p, diags := dsl.Load("ab.yaml", []byte(abTest))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	s := engine.NewSession(p, "c1", now)
	s, effs := engine.Step(p, s, engine.Event{Kind: engine.EventStart, Now: now, Visitor: &engine.Visitor{ID: "v_1"}})
	entries := f.svc.Entries(p, s, nil, effs, now)
	want := s.Variants["greeting"]
	if want == "" {
		t.Fatalf("the session records no variant: %+v", s)
	}
	var variant, end bool
	for _, e := range entries {
		switch e.Kind {
		case "variant":
			variant = e.From == "system" && e.Card == "hello" && e.Data["experiment"] == "greeting" && e.Data["variant"] == want
		case "end":
			vs, _ := e.Data["variants"].(map[string]string)
			end = e.Data["outcome"] == "done" && vs["greeting"] == want
		}
	}
	if !variant || !end {
		t.Fatalf("entries %+v: want a variant entry and an end entry with variant %q", entries, want)
	}
	for _, e := range conversation.VisitorEntries(entries) {
		if e.Kind == "variant" || e.Data["variants"] != nil {
			t.Errorf("the widget sees %+v", e)
		}
	}
}

func TestVariantKey(t *testing.T) {
	tests := []struct {
		in   map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"greeting": "short"}, "greeting=short"},
		{map[string]string{"pricing": "b", "greeting": "short"}, "greeting=short,pricing=b"},
	}
	for _, tt := range tests {
		got := conversation.VariantKey(tt.in)
		if got != tt.want {
			t.Errorf("VariantKey(%v) = %q, want %q", tt.in, got, tt.want)
		}
		for x, v := range tt.in {
			if back, ok := conversation.VariantIn(got, x); !ok || back != v {
				t.Errorf("VariantIn(%q, %q) = %q, %v; want %q", got, x, back, ok, v)
			}
		}
		if _, ok := conversation.VariantIn(got, "gree"); ok {
			t.Errorf("VariantIn(%q) found an experiment that is not there", got)
		}
	}
}

// TestExperimentFromRows: funnel rows of several days, versions and
// experiments sum into one experiment's per-variant counts; rows of other
// experiments and of no variant are left out.
func TestExperimentFromRows(t *testing.T) {
	row := func(day, variant, counter string, n int64) store.FunnelRow {
		return store.FunnelRow{FunnelKey: store.FunnelKey{Day: day, Playbook: "ab", Version: "v1", Variant: variant}, Counter: counter, Count: n}
	}
	rows := []store.FunnelRow{
		row("2026-01-01", "", "started", 500),
		row("2026-01-01", "", "outcome|done", 7), // ended before any variant
		row("2026-01-01", "greeting=short", "variant|greeting", 200),
		row("2026-01-02", "greeting=short", "variant|greeting", 50),
		row("2026-01-01", "greeting=short", "outcome|done", 20),
		row("2026-01-02", "greeting=short,pricing=b", "outcome|done", 5),
		row("2026-01-02", "greeting=short,pricing=b", "variant|pricing", 30),
		row("2026-01-01", "greeting=long", "variant|greeting", 240),
		row("2026-01-01", "greeting=long", "outcome|done", 48),
		row("2026-01-01", "greeting=long", "record|lead", 12),
		row("2026-01-01", "pricing=a", "outcome|done", 99),
	}
	rows = append(rows, store.FunnelRow{FunnelKey: store.FunnelKey{Day: "2026-01-01", Playbook: "other", Version: "v2", Variant: "greeting=short"}, Counter: "variant|greeting", Count: 1000})
	st := conversation.ExperimentFromRows(rows, "ab", "greeting")
	if got := st.Variants; len(got) != 2 || got[0] != "long" || got[1] != "short" {
		t.Fatalf("variants %v", got)
	}
	if st.Entered["short"] != 250 || st.Entered["long"] != 240 {
		t.Errorf("entered %v", st.Entered)
	}
	if st.Outcomes["short"]["done"] != 25 || st.Outcomes["long"]["done"] != 48 || st.Records["long"]["lead"] != 12 {
		t.Errorf("outcomes %v, records %v", st.Outcomes, st.Records)
	}
	if g := st.Goals(); len(g) != 2 || g[0] != "done" || g[1] != "record:lead" {
		t.Errorf("goals %v", g)
	}
	if all := conversation.Experiments(rows); len(all) != 3 || all[0].Experiment != "greeting" || all[0].Playbook != "ab" || all[1].Experiment != "pricing" || all[2].Playbook != "other" || all[2].Entered["short"] != 1000 {
		t.Errorf("experiments %+v", all)
	}
	rows2 := st.Compare("done", 1.959963984540054)
	if rows2[0].Variant != "long" || rows2[0].N != 240 || rows2[0].K != 48 || rows2[1].K != 25 {
		t.Errorf("compare %+v", rows2)
	}
	if r := st.Compare("record:lead", 1.96); r[0].K != 12 || r[1].K != 0 {
		t.Errorf("compare leads %+v", r)
	}
}

// TestExperimentFunnel runs conversations of the example A/B playbook
// through the App (embedded store, no network): visitors with ids, each
// clicking yes or no. The funnel's experiment counts equal a count made
// here from what each conversation did: how many went into each variant
// (the variant is read back from the session), and how many of those
// subscribed or declined.
func TestExperimentFunnel(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile("../playbooks/experiments/newsletter-ab.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "newsletter-ab.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	app := newApp(t, conversation.Options{Playbooks: dir})
	svc := app.Service()
	ctx := context.Background()
	prog, ok := app.Registry().Current("newsletter-ab")
	if !ok {
		t.Fatal("newsletter-ab is not loaded")
	}
	type tally struct{ entered, subscribed, declined int64 }
	want := map[string]*tally{"direct": {}, "friendly": {}}
	yes := map[string]string{"direct": "Yes", "friendly": "Yes please"}
	const n = 120
	for i := range n {
		sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: prog, Locale: "en", Visitor: engine.Visitor{ID: fmt.Sprintf("v_%04d", i)}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		v := sess.Variants["newsletter-opener"]
		w := want[v]
		if w == nil {
			t.Fatalf("conversation %d went into variant %q", i, v)
		}
		w.entered++
		send := func(ev engine.Event, text string) {
			t.Helper()
			msg := store.Entry{From: "visitor", Kind: "message", Text: text, ClientID: fmt.Sprintf("m%d-%s", i, text)}
			if _, _, err := svc.Turn(ctx, sess.ID, msg.ClientID, ev, &msg); err != nil {
				t.Fatal(err)
			}
		}
		click := func(label string) { send(engine.Event{Kind: engine.EventButton, Button: label}, label) }
		if i%3 == 0 {
			click(yes[v])
			email := fmt.Sprintf("ana%d@acme.io", i)
			send(engine.Event{Kind: engine.EventText, Text: email}, email)
			w.subscribed++
		} else {
			click(map[string]string{"direct": "No", "friendly": "No thanks"}[v])
			w.declined++
		}
	}
	st, err := svc.Funnel(ctx, conversation.StatsQuery{Playbook: "newsletter-ab"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Experiments) != 1 || st.Experiments[0].Experiment != "newsletter-opener" {
		t.Fatalf("experiments %+v", st.Experiments)
	}
	x := st.Experiments[0]
	got := map[string]*tally{}
	for _, v := range x.Variants {
		got[v.Variant] = &tally{entered: v.Conversations}
	}
	for _, g := range x.Goals {
		for _, r := range g.Variants {
			if got[r.Variant] == nil || r.Conversations != got[r.Variant].entered {
				t.Fatalf("goal %s, variant %s: %d conversations", g.Goal, r.Variant, r.Conversations)
			}
			if r.Low > r.Rate || r.High < r.Rate {
				t.Errorf("goal %s, variant %s: rate %f outside [%f, %f]", g.Goal, r.Variant, r.Rate, r.Low, r.High)
			}
			switch g.Goal {
			case "subscribed":
				got[r.Variant].subscribed = r.Reached
			case "declined":
				got[r.Variant].declined = r.Reached
			}
		}
	}
	for v, w := range want {
		if g := got[v]; g == nil || *g != *w {
			t.Errorf("variant %s: funnel %+v, counted %+v", v, g, *w)
		}
	}
	if want["direct"].entered == 0 || want["friendly"].entered == 0 {
		t.Errorf("%d visitors all went into one variant: %+v %+v", n, *want["direct"], *want["friendly"])
	}
}
