package conversation_test

import (
	"context"
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
