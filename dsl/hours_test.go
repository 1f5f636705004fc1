package dsl_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
)

func TestLoadHours(t *testing.T) {
	h, diags := dsl.LoadHours("hours.yaml", []byte("hours:\n  sales:\n    zone: America/New_York\n    mon-fri: 09:00-17:00\n    sat: 10:00-12:00\n    holidays: [2026-07-03]\n  night:\n    zone: UTC\n    sun,wed: 22:00-24:00\n"))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, tt := range []struct {
		team string
		at   string
		want bool
	}{
		{"sales", "2026-01-05T14:00:00Z", true},  // Monday 9:00 in New York
		{"sales", "2026-01-05T13:59:00Z", false}, // 8:59
		{"sales", "2026-01-05T22:00:00Z", false}, // 17:00: closed
		{"sales", "2026-01-10T16:00:00Z", true},  // Saturday 11:00
		{"sales", "2026-01-11T16:00:00Z", false}, // Sunday
		{"sales", "2026-07-03T15:00:00Z", false}, // holiday
		{"sales", "2026-07-06T13:30:00Z", true},  // Monday 9:30 in summer time (UTC-4)
		{"night", "2026-01-07T23:59:00Z", true},
		{"night", "2026-01-08T00:00:00Z", false},
		{"other", "2026-01-05T14:00:00Z", false},
	} {
		at, _ := time.Parse(time.RFC3339, tt.at)
		if got, _ := h.Open(tt.team, at); got != tt.want {
			t.Errorf("%s at %s: open %v, want %v", tt.team, tt.at, got, tt.want)
		}
	}
	for src, want := range map[string]string{
		"hours:\n  sales:\n    mon-fri: 09:00-17:00\n":                  `2:3: error: team "sales" has no ` + "`zone:`",
		"hours:\n  sales:\n    zone: Europe/Berln\n":                    `3:11: error: unknown time zone "Europe/Berln"`,
		"hours:\n  sales:\n    zone: UTC\n    mon-fry: 09:00-17:00\n":   `4:5: error: "mon-fry" is not a day`,
		"hours:\n  sales:\n    zone: UTC\n    mon: 17:00-09:00\n":       `4:10: error: "17:00-09:00" is not a time range`,
		"hours:\n  sales:\n    zone: UTC\n    holidays: [2026-13-01]\n": `4:16: error: holiday "2026-13-01" is not a date`,
		"hours:\n  Sales:\n    zone: UTC\n":                             `2:3: error: team "Sales" must be lowercase`,
		"hour:\n  sales: {}\n":                                          `1:1: error: unknown key "hour"`,
	} {
		_, diags := dsl.LoadHours("hours.yaml", []byte(src))
		if !strings.Contains(diags.Error(), "hours.yaml:"+want) {
			t.Errorf("%q: got %v, want %s", src, diags, want)
		}
	}
}

// TestHoursAreInTheVersion: the hours.yaml of a folder is part of each
// playbook's version, so a server that compiles a version again from its
// stored files (another process, a restart) has the same hours.
func TestHoursAreInTheVersion(t *testing.T) {
	dir := t.TempDir()
	book := dir + "/desk.yaml"
	if err := os.WriteFile(book, []byte("playbook: desk\ncards:\n  a:\n    say: \"{{ open_hours('sales') }}\"\n    end: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, diags := dsl.LoadPaths(dir)
	if diags.HasErrors() || len(set.Programs) != 1 {
		t.Fatal(diags)
	}
	bare := set.Programs[0]
	if bare.Hours != nil {
		t.Fatalf("hours without an hours file: %v", bare.Hours)
	}
	if err := os.WriteFile(dir+"/hours.yaml", []byte("hours:\n  sales: {zone: UTC, mon-fri: \"09:00-17:00\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	set, diags = dsl.LoadPaths(dir)
	if diags.HasErrors() || len(set.Programs) != 1 {
		t.Fatal(diags)
	}
	p := set.Programs[0]
	if p.Hours["sales"] == nil || p.Hash == bare.Hash {
		t.Fatalf("hours %v, hash %s (was %s)", p.Hours, p.Hash, bare.Hash)
	}
	files := source.Files{}
	for _, f := range p.Files {
		files[f] = set.Files[f]
	}
	again, diags := dsl.LoadVersion(p.Files[0], files)
	if again == nil || again.Hash != p.Hash || again.Hours["sales"] == nil {
		t.Fatalf("version compiled again: %v %v", again, diags)
	}
	monday := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	if open, _ := again.Hours.Open("sales", monday); !open {
		t.Fatal("sales closed on Monday at 10:00 UTC")
	}
}
