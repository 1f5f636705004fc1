package engine

import "time"

// Hours are teams' opening hours, declared in a playbook folder's
// hours.yaml and read by open_hours("team"). The zero value knows no team.
type Hours map[string]*TeamHours

// TeamHours is one team's week and holidays in its time zone.
type TeamHours struct {
	Zone *time.Location
	// Week holds the open spans of each day, by time.Weekday.
	Week [7][]Span
	// Holidays are closed days, as 2006-01-02 in Zone.
	Holidays map[string]bool
}

// Span is an open span of a day in minutes after midnight; From < To, and
// To may be 24*60.
type Span struct{ From, To int }

// Open reports whether team is within its opening hours at now, and known
// false when the hours do not name the team.
func (h Hours) Open(team string, now time.Time) (open, known bool) {
	th := h[team]
	if th == nil {
		return false, false
	}
	zone := th.Zone
	if zone == nil {
		zone = time.UTC
	}
	local := now.In(zone)
	if th.Holidays[local.Format("2006-01-02")] {
		return false, true
	}
	m := local.Hour()*60 + local.Minute()
	for _, s := range th.Week[local.Weekday()] {
		if m >= s.From && m < s.To {
			return true, true
		}
	}
	return false, true
}
