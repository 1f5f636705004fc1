package handoff

import (
	"context"
	"fmt"
	"slices"

	"github.com/playbook-dev/playbook/store"
)

// Routing is how a team's new chats find an agent.
type Routing = store.Routing

// Routing modes.
const (
	Manual     = store.Manual
	RoundRobin = store.RoundRobin
	LeastBusy  = store.LeastBusy
)

// TeamConfig is a team's routing and reopen policy.
type TeamConfig = store.TeamConfig

// ReopenPolicy is what a resolved chat of a team may become.
type ReopenPolicy = store.ReopenPolicy

// Reopen policies.
const (
	ReopenNever   = store.ReopenNever
	ReopenAllowed = store.ReopenAllowed
)

// SetTeamConfig sets a team's routing.
func (s *Store) SetTeamConfig(ctx context.Context, team string, c TeamConfig) error {
	if !teamRE.MatchString(team) {
		return fmt.Errorf("%w: team %q", ErrInvalid, team)
	}
	if !slices.Contains([]Routing{Manual, RoundRobin, LeastBusy}, c.Routing) || c.Capacity < 0 {
		return fmt.Errorf("%w: routing is manual, round_robin or least_busy; capacity ≥ 0", ErrInvalid)
	}
	if c.Reopen == "" {
		c.Reopen = ReopenNever
	}
	if c.Reopen != ReopenNever && c.Reopen != ReopenAllowed {
		return fmt.Errorf("%w: reopen is never or reopen", ErrInvalid)
	}
	return s.st.SetTeamConfig(ctx, team, c)
}

// TeamConfigOf returns a team's routing; manual when never set.
func (s *Store) TeamConfigOf(ctx context.Context, team string) (TeamConfig, error) {
	return s.st.TeamConfig(ctx, team)
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
		n, err := s.st.NextTurn(ctx, team)
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
	return s.st.Listed(ctx, FolderUnassigned, team, n)
}
