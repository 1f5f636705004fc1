package main

import (
	"testing"
	"time"
)

func TestRetentionFlagTakesDays(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"90d", 90 * 24 * time.Hour, false},
		{"1d", 24 * time.Hour, false},
		{"36h", 36 * time.Hour, false},
		{"d", 0, true},
		{"-3d", 0, true},
		{"12x", 0, true},
		{"30m", 0, true}, // less than an hour
	} {
		var d days
		err := d.Set(c.in)
		if (err != nil) != c.err || (err == nil && time.Duration(d) != c.want) {
			t.Errorf("--retention %s: %v, %v; want %v (error: %v)", c.in, time.Duration(d), err, c.want, c.err)
		}
	}
}
