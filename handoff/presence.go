package handoff

import (
	"context"
	"strconv"
)

// Presence is an agent's chosen availability.
type Presence string

// Presence values. Only online agents receive chats; away agents keep
// their chats but get no new ones.
const (
	Online  Presence = "online"
	Away    Presence = "away"
	Offline Presence = "offline"
)

func (s *Store) presenceKey(team string) string { return s.p + "presence:" + team }

// SetPresence records an agent's choice and, for online, counts as a
// heartbeat.
func (s *Store) SetPresence(ctx context.Context, a *Agent, p Presence) error {
	switch p {
	case Online, Away, Offline:
	default:
		return ErrInvalid
	}
	if err := s.rdb.HSet(ctx, s.p+"agent-status", a.ID, string(p)).Err(); err != nil {
		return err
	}
	if p == Online {
		return s.Heartbeat(ctx, a)
	}
	pipe := s.rdb.Pipeline()
	for _, t := range a.Teams {
		pipe.ZRem(ctx, s.presenceKey(t), a.ID)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// PresenceOf returns an agent's chosen availability and whether heartbeats
// still keep it alive: an online agent whose browser died reads as offline.
func (s *Store) PresenceOf(ctx context.Context, a *Agent) (Presence, error) {
	p, err := s.rdb.HGet(ctx, s.p+"agent-status", a.ID).Result()
	if err != nil || p == "" {
		return Offline, nil
	}
	if Presence(p) != Online || len(a.Teams) == 0 {
		return Presence(p), nil
	}
	score, err := s.rdb.ZScore(ctx, s.presenceKey(a.Teams[0]), a.ID).Result()
	if err != nil || int64(score) < s.now().Add(-s.online).UnixMilli() {
		return Offline, nil
	}
	return Online, nil
}

// Heartbeat keeps an online agent online for the presence timeout. It does
// nothing for an agent who chose away or offline.
func (s *Store) Heartbeat(ctx context.Context, a *Agent) error {
	p, _ := s.rdb.HGet(ctx, s.p+"agent-status", a.ID).Result()
	if Presence(p) != Online {
		return nil
	}
	now := float64(s.now().UnixMilli())
	pipe := s.rdb.Pipeline()
	for _, t := range a.Teams {
		pipe.ZAdd(ctx, s.presenceKey(t), redisZ(now, a.ID))
	}
	_, err := pipe.Exec(ctx)
	return err
}

// OnlineCount returns how many agents of each team are online, in one round
// trip.
func (s *Store) OnlineCount(ctx context.Context, teams []string) (map[string]int, error) {
	min := strconv.FormatInt(s.now().Add(-s.online).UnixMilli(), 10)
	pipe := s.rdb.Pipeline()
	counts := make([]interface{ Val() int64 }, len(teams))
	for i, t := range teams {
		counts[i] = pipe.ZCount(ctx, s.presenceKey(t), min, "+inf")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(teams))
	for i, t := range teams {
		out[t] = int(counts[i].Val())
	}
	return out, nil
}

// OnlineAgents returns the ids of a team's online agents.
func (s *Store) OnlineAgents(ctx context.Context, team string) ([]string, error) {
	min := strconv.FormatInt(s.now().Add(-s.online).UnixMilli(), 10)
	return s.rdb.ZRangeByScore(ctx, s.presenceKey(team), &redisRange{Min: min, Max: "+inf"}).Result()
}
