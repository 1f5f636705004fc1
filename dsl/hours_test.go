package dsl_test

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/dsl"
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
