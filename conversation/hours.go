package conversation

import (
	"context"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // opening hours name IANA zones; do not depend on the host's tz database
)

// Hours are teams' opening hours, for open_hours("team") in playbooks. A
// team without hours is always open.
type Hours map[string]weekHours

type weekHours struct {
	days     [7]bool // by time.Weekday
	from, to int     // minutes after midnight; to > from
	loc      *time.Location
}

var dayNames = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// ParseHours reads opening hours such as
//
//	sales=mon-fri 09:00-18:00 Europe/Berlin; support=mon-sat 08:00-20:00 UTC
//
// Days are a range (mon-fri) or a list (mon,wed,fri); the zone is an IANA
// name, UTC by default.
func ParseHours(spec string) (Hours, error) {
	h := Hours{}
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		team, rule, ok := strings.Cut(part, "=")
		f := strings.Fields(rule)
		if !ok || len(f) < 2 || len(f) > 3 {
			return nil, fmt.Errorf("opening hours %q: write TEAM=DAYS HH:MM-HH:MM [ZONE], e.g. sales=mon-fri 09:00-18:00 Europe/Berlin", part)
		}
		var w weekHours
		if err := parseDays(f[0], &w.days); err != nil {
			return nil, fmt.Errorf("opening hours of %s: %w", team, err)
		}
		from, to, ok := strings.Cut(f[1], "-")
		var err1, err2 error
		w.from, err1 = minutes(from)
		w.to, err2 = minutes(to)
		if !ok || err1 != nil || err2 != nil || w.to <= w.from {
			return nil, fmt.Errorf("opening hours of %s: %q is not a time range like 09:00-18:00", team, f[1])
		}
		w.loc = time.UTC
		if len(f) == 3 {
			loc, err := time.LoadLocation(f[2])
			if err != nil {
				return nil, fmt.Errorf("opening hours of %s: unknown time zone %q", team, f[2])
			}
			w.loc = loc
		}
		h[strings.TrimSpace(team)] = w
	}
	return h, nil
}

func parseDays(s string, days *[7]bool) error {
	for _, d := range strings.Split(strings.ToLower(s), ",") {
		a, b, isRange := strings.Cut(d, "-")
		from, ok1 := dayNames[a]
		to, ok2 := dayNames[b]
		if !ok1 || isRange && !ok2 {
			return fmt.Errorf("%q is not a day or a range of days like mon-fri", d)
		}
		if !isRange {
			to = from
		}
		for i := from; ; i = (i + 1) % 7 {
			days[i] = true
			if i == to {
				break
			}
		}
	}
	return nil
}

func minutes(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		if s == "24:00" {
			return 24 * 60, nil
		}
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// Open implements OpenHours.
func (h Hours) Open(_ context.Context, teams []string, now time.Time) (map[string]bool, error) {
	out := make(map[string]bool, len(teams))
	for _, t := range teams {
		w, ok := h[t]
		if !ok {
			out[t] = true
			continue
		}
		local := now.In(w.loc)
		m := local.Hour()*60 + local.Minute()
		out[t] = w.days[local.Weekday()] && m >= w.from && m < w.to
	}
	return out, nil
}
