package handoff

import (
	"context"
	"fmt"
	"slices"
	"strconv"
)

// Routing is how a team's new chats find an agent.
type Routing string

// Routing modes.
const (
	// Manual: chats wait in the queue until an agent takes one.
	Manual Routing = "manual"
	// RoundRobin: each chat goes to the next online agent with room, in
	// turn, fairly across server processes.
	RoundRobin Routing = "round_robin"
	// LeastBusy: each chat goes to the online agent with the fewest open
	// chats, if below capacity.
	LeastBusy Routing = "least_busy"
)

// TeamConfig is a team's routing.
type TeamConfig struct {
	Routing Routing `json:"routing"`
	// Capacity is how many open chats an agent takes at most under
	// automatic routing; 0 means no limit. A chat that finds every agent
	// full waits in the queue.
	Capacity int `json:"capacity"`
}

// SetTeamConfig sets a team's routing.
func (s *Store) SetTeamConfig(ctx context.Context, team string, c TeamConfig) error {
	if !teamRE.MatchString(team) {
		return fmt.Errorf("%w: team %q", ErrInvalid, team)
	}
	if !slices.Contains([]Routing{Manual, RoundRobin, LeastBusy}, c.Routing) || c.Capacity < 0 {
		return fmt.Errorf("%w: routing is manual, round_robin or least_busy; capacity ≥ 0", ErrInvalid)
	}
	return s.rdb.HSet(ctx, s.teamConfigKey(team), "routing", string(c.Routing), "capacity", c.Capacity).Err()
}

func (s *Store) teamConfigKey(team string) string { return s.p + "{t:" + team + "}:config" }

// TeamConfigOf returns a team's routing; manual when never set.
func (s *Store) TeamConfigOf(ctx context.Context, team string) (TeamConfig, error) {
	m, err := s.rdb.HGetAll(ctx, s.teamConfigKey(team)).Result()
	if err != nil {
		return TeamConfig{}, err
	}
	return teamConfig(m), nil
}

func teamConfig(m map[string]string) TeamConfig {
	c := TeamConfig{Routing: Routing(m["routing"])}
	if c.Routing == "" {
		c.Routing = Manual
	}
	c.Capacity, _ = strconv.Atoi(m["capacity"])
	return c
}

// PickAgent chooses the agent a queued chat of team goes to under the
// team's routing, or nil (manual routing, nobody online, everyone full).
func (s *Store) PickAgent(ctx context.Context, team string) (*Agent, error) {
	cfg, err := s.TeamConfigOf(ctx, team)
	if err != nil {
		return nil, err
	}
	return s.PickAgentUnder(ctx, team, cfg)
}

// PickAgentUnder is PickAgent with the team's routing already read.
func (s *Store) PickAgentUnder(ctx context.Context, team string, cfg TeamConfig) (*Agent, error) {
	if cfg.Routing == Manual {
		return nil, nil
	}
	ids, err := s.OnlineAgents(ctx, team)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	slices.Sort(ids)
	open, err := s.OpenCount(ctx, ids)
	if err != nil {
		return nil, err
	}
	hasRoom := func(id string) bool { return cfg.Capacity == 0 || open[id] < cfg.Capacity }
	var pick string
	switch cfg.Routing {
	case LeastBusy:
		for _, id := range ids {
			if hasRoom(id) && (pick == "" || open[id] < open[pick]) {
				pick = id
			}
		}
	case RoundRobin:
		n, err := s.rdb.Incr(ctx, s.p+"rr:"+team).Result()
		if err != nil {
			return nil, err
		}
		for i := range ids {
			id := ids[(int(n)+i)%len(ids)]
			if hasRoom(id) {
				pick = id
				break
			}
		}
	}
	if pick == "" {
		return nil, nil
	}
	return s.Agent(ctx, pick)
}

// Queued returns the oldest unassigned conversations of a team, for routing
// them when an agent gets room.
func (s *Store) Queued(ctx context.Context, team string, n int) ([]string, error) {
	return s.rdb.ZRange(ctx, s.queueKey(team), 0, int64(n-1)).Result()
}
