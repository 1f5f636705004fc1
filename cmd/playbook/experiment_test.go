package main

import (
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/store"
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
