package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"
)

// MoveLegacyTeamKeys moves the team lists and routing of the key layout
// before issue 12 (team:TEAM:queue and the like, team-config:TEAM) to
// their keys of today ({t:TEAM}:..., one Redis Cluster slot per team), for
// the teams of the set of teams and of the agents. It is idempotent and
// safe to run from several processes at once; run it at start-up. Each
// key is copied, then the old one deleted: a process that dies in between
// leaves the old key, which the next run copies again (a list's members are
// a set, a routing is copied only where none is set). A chat that changes
// during the move may stay in a stale list until its next change, as after
// any interrupted change (see indexBatch). It returns how many keys it
// moved.
func (s *Inbox) MoveLegacyTeamKeys(ctx context.Context) (int, error) {
	teams, err := s.rdb.SMembers(ctx, s.teamsKey()).Result()
	if err != nil {
		return 0, err
	}
	agents, err := s.AgentList(ctx)
	if err != nil {
		return 0, err
	}
	for _, a := range agents {
		teams = append(teams, a.Teams...)
	}
	seen := map[string]bool{}
	moved := 0
	for _, t := range teams {
		if seen[t] {
			continue
		}
		seen[t] = true
		for list, key := range map[string]string{"queue": s.queueKey(t), "open": s.openKey(t), "snoozed": s.snoozedKey(t), "closed": s.closedKey(t), "missed": s.missedKey(t)} {
			old := s.p + "team:" + t + ":" + list
			zs, err := s.rdb.ZRangeWithScores(ctx, old, 0, -1).Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				return moved, err
			}
			if len(zs) == 0 {
				continue
			}
			if err := s.rdb.ZAdd(ctx, key, zs...).Err(); err != nil {
				return moved, err
			}
			if err := s.rdb.Del(ctx, old).Err(); err != nil {
				return moved, err
			}
			moved++
		}
		old := s.p + "team-config:" + t
		cfg, err := s.rdb.HGetAll(ctx, old).Result()
		if err != nil {
			return moved, err
		}
		if len(cfg) == 0 {
			continue
		}
		for f, v := range cfg {
			if err := s.rdb.HSetNX(ctx, s.teamConfigKey(t), f, v).Err(); err != nil {
				return moved, err
			}
		}
		if err := s.rdb.Del(ctx, old).Err(); err != nil {
			return moved, err
		}
		moved++
	}
	return moved, nil
}
