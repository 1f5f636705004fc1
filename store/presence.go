package store

import (
	"context"
	"time"
)

// Presence keeps agents' chosen availability ("online", "away",
// "offline") and their heartbeats per team. An agent is online in a team
// while its last heartbeat there is recent: the caller asks with a time
// (since), so expiry needs no clean-up to be exact.
type Presence interface {
	// SetAvailability stores an agent's choice.
	SetAvailability(ctx context.Context, agent, availability string) error
	// Availability returns an agent's choice, "" when never set.
	Availability(ctx context.Context, agent string) (string, error)
	// Beat records a heartbeat of agent at at in each of teams.
	Beat(ctx context.Context, agent string, teams []string, at time.Time) error
	// Leave removes agent's heartbeats from teams.
	Leave(ctx context.Context, agent string, teams []string) error
	// LastBeat returns agent's last heartbeat in team; false when none.
	LastBeat(ctx context.Context, agent, team string) (time.Time, bool, error)
	// OnlineCount returns how many agents of each team beat at or after
	// since.
	OnlineCount(ctx context.Context, teams []string, since time.Time) (map[string]int, error)
	// Online returns the ids of the agents of team that beat at or after
	// since.
	Online(ctx context.Context, team string, since time.Time) ([]string, error)
}
