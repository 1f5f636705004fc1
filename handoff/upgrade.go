package handoff

import "context"

// MoveLegacyTeamKeys moves the team lists and routing of the Redis key
// layout before issue 12 to today's (see store/redis Inbox.MoveLegacyTeamKeys)
// when the engine has such a layout; on other engines it moves nothing. It
// returns how many keys it moved.
func (s *Store) MoveLegacyTeamKeys(ctx context.Context) (int, error) {
	if m, ok := s.st.(interface {
		MoveLegacyTeamKeys(context.Context) (int, error)
	}); ok {
		return m.MoveLegacyTeamKeys(ctx)
	}
	return 0, nil
}
