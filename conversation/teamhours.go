package conversation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/handoff"
)

// ParseTeamHours reads one team's opening hours as an admin writes them
// in Settings: "mon-fri 09:00-18:00 Europe/Berlin" (ParseHours's rule
// without the team).
func ParseTeamHours(spec string) (Hours, error) {
	if f := strings.Fields(spec); strings.ContainsAny(spec, ";=") || len(f) < 2 || len(f) > 3 {
		return nil, fmt.Errorf("write DAYS HH:MM-HH:MM [ZONE], e.g. mon-fri 09:00-18:00 Europe/Berlin")
	}
	h, err := ParseHours("team=" + spec)
	if err != nil {
		return nil, fmt.Errorf("%s", strings.TrimPrefix(strings.TrimPrefix(err.Error(), "opening hours of team: "), "opening hours "))
	}
	return h, nil
}

// teamHoursTTL bounds how long a process keeps the admins' opening hours
// without hearing of a change (the inbox event that drops them is the
// usual way; this is the net under a lost one).
const teamHoursTTL = time.Minute

// teamHours keeps the opening hours admins set per team (TeamConfig.Hours)
// for open_hours(), read from the store once and dropped when a
// teams_changed inbox event arrives from any process (Receive), when the
// bus subscription broke (Resync), or after teamHoursTTL.
type teamHours struct {
	inbox *handoff.Store
	now   func() time.Time

	mu     sync.Mutex
	hours  Hours // nil: to read
	loaded time.Time
	// gen counts the drops: hours read across a drop are not kept.
	gen uint64
}

// drop forgets the hours; the next turn reads them again.
func (t *teamHours) drop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.hours = nil
	t.gen++
	t.mu.Unlock()
}

// get returns the stored hours by team (teams without hours left out).
func (t *teamHours) get(ctx context.Context) (Hours, error) {
	t.mu.Lock()
	h, at, gen := t.hours, t.loaded, t.gen
	t.mu.Unlock()
	now := t.now()
	if h != nil && now.Sub(at) < teamHoursTTL {
		return h, nil
	}
	teams, err := t.inbox.ListedTeams(ctx)
	if err != nil {
		return nil, err
	}
	h = Hours{}
	for _, team := range teams {
		cfg, err := t.inbox.TeamConfigOf(ctx, team)
		if err != nil {
			return nil, err
		}
		if cfg.Hours == "" {
			continue
		}
		one, err := ParseTeamHours(cfg.Hours)
		if err != nil {
			continue // checked when saved; a bad one is no hours
		}
		h[team] = one["team"]
	}
	t.mu.Lock()
	if t.gen == gen { // else dropped while read: the next turn reads again
		t.hours, t.loaded = h, now
	}
	t.mu.Unlock()
	return h, nil
}

// Receive implements Subscriber on the inbox channel.
func (t *teamHours) Receive(_, payload string) {
	if strings.Contains(payload, `"type":"teams_changed"`) {
		t.drop()
	}
}

// Resync implements Subscriber: what was missed may have changed hours.
func (t *teamHours) Resync(string) { t.drop() }

// TeamsWatcher is what the transport attaches to the inbox channel
// (InboxChannel) of its hub, so that opening hours an admin changes on any
// process reach open_hours() here; nil without an inbox.
func (s *Service) TeamsWatcher() Subscriber {
	if s.teamHours == nil {
		return nil
	}
	return s.teamHours
}
