package conversation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
)

func TestOpeningHours(t *testing.T) {
	h, err := conversation.ParseHours("sales=mon-fri 09:00-18:00 Europe/Berlin; support=sat,sun 10:00-12:00")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) map[string]bool {
		tm, _ := time.Parse(time.RFC3339, s)
		open, _ := h.Open(context.Background(), []string{"sales", "support", "billing"}, tm)
		return open
	}
	for _, tt := range []struct {
		when                    string
		sales, support, billing bool
	}{
		{"2026-01-05T08:30:00Z", true, false, true},  // Monday 09:30 in Berlin
		{"2026-01-05T07:30:00Z", false, false, true}, // Monday 08:30 in Berlin
		{"2026-01-05T17:00:00Z", false, false, true}, // Monday 18:00 in Berlin: closed
		{"2026-01-10T10:30:00Z", false, true, true},  // Saturday
	} {
		got := at(tt.when)
		if got["sales"] != tt.sales || got["support"] != tt.support || got["billing"] != tt.billing {
			t.Errorf("%s: %v", tt.when, got)
		}
	}
	for _, bad := range []string{"sales", "sales=mon-fri", "sales=funday 09:00-10:00", "sales=mon 10:00-09:00", "sales=mon 09:00-10:00 Mars/Base"} {
		if _, err := conversation.ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q) accepted", bad)
		}
	}
}

func TestParseTeamHours(t *testing.T) {
	for spec, want := range map[string]string{
		"mon-fri 09:00-18:00 Europe/Berlin": "",
		"sat 10:00-14:00":                   "",
		"weekdays":                          "write DAYS HH:MM-HH:MM [ZONE], e.g. mon-fri 09:00-18:00 Europe/Berlin",
		"sales=mon-fri 09:00-18:00":         "write DAYS HH:MM-HH:MM [ZONE]",
		"someday 09:00-18:00":               `"someday" is not a day or a range of days like mon-fri`,
		"mon 18:00-09:00":                   `"18:00-09:00" is not a time range like 09:00-18:00`,
		"mon 09:00-18:00 Mars/Olympus":      `unknown time zone "Mars/Olympus"`,
	} {
		_, err := conversation.ParseTeamHours(spec)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: %v, want %q", spec, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "team") {
			t.Errorf("%q: %q speaks of a team the admin did not write", spec, err)
		}
	}
}
