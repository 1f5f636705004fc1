package handoff

import (
	"context"
	"slices"
	"time"
)

// RecentWaits is how many of a team's latest pick-up times (how long a
// chat waited in the queue before an agent took it) the team keeps for
// WaitEstimate.
const RecentWaits = 20

// recordWait keeps how long before waited in its team's queue when it is
// taken at at: only a chat that was waiting there (open, nobody's) counts,
// not one taken from Missed or passed from agent to agent. A failed write
// loses one sample: the estimate is then a little older, the take stands.
func (s *Store) recordWait(ctx context.Context, before *Conversation, at time.Time) {
	if before.Status != StatusOpen || before.Assignee != "" || before.QueuedAt == nil || before.Team == "" {
		return
	}
	_ = s.st.AddWait(ctx, before.Team, at.Sub(*before.QueuedAt), RecentWaits)
}

// WaitEstimate returns how long a chat of team usually waits in the queue
// before an agent takes it: the median of the team's latest RecentWaits
// pick-up times (the mean of the middle two for an even count), to the
// second. False when no chat of the team was taken from its queue yet.
func (s *Store) WaitEstimate(ctx context.Context, team string) (time.Duration, bool, error) {
	w, err := s.st.Waits(ctx, team)
	if err != nil || len(w) == 0 {
		return 0, false, err
	}
	return Median(w).Round(time.Second), true, nil
}

// Median is the median of ws (not empty; the mean of the middle two for
// an even count). ws is not changed.
func Median(ws []time.Duration) time.Duration {
	s := slices.Clone(ws)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
