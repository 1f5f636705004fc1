package redis

import (
	"context"
	"errors"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func (s *Inbox) presenceKey(team string) string { return s.p + "presence:" + team }

// SetAvailability implements store.Presence.
func (s *Inbox) SetAvailability(ctx context.Context, agent, availability string) error {
	return s.rdb.HSet(ctx, s.p+"agent-status", agent, availability).Err()
}

// Availability implements store.Presence.
func (s *Inbox) Availability(ctx context.Context, agent string) (string, error) {
	p, err := s.rdb.HGet(ctx, s.p+"agent-status", agent).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return p, err
}

// Beat implements store.Presence.
func (s *Inbox) Beat(ctx context.Context, agent string, teams []string, at time.Time) error {
	if len(teams) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, t := range teams {
		pipe.ZAdd(ctx, s.presenceKey(t), zmember(at, agent))
	}
	_, err := pipe.Exec(ctx)
	return err
}

// Leave implements store.Presence.
func (s *Inbox) Leave(ctx context.Context, agent string, teams []string) error {
	if len(teams) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, t := range teams {
		pipe.ZRem(ctx, s.presenceKey(t), agent)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// LastBeat implements store.Presence.
func (s *Inbox) LastBeat(ctx context.Context, agent, team string) (time.Time, bool, error) {
	score, err := s.rdb.ZScore(ctx, s.presenceKey(team), agent).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return time.UnixMilli(int64(score)), true, nil
}

// OnlineCount implements store.Presence in one round trip.
func (s *Inbox) OnlineCount(ctx context.Context, teams []string, since time.Time) (map[string]int, error) {
	out := make(map[string]int, len(teams))
	if len(teams) == 0 {
		return out, nil
	}
	min := strconv.FormatInt(since.UnixMilli(), 10)
	pipe := s.rdb.Pipeline()
	counts := make([]*goredis.IntCmd, len(teams))
	for i, t := range teams {
		counts[i] = pipe.ZCount(ctx, s.presenceKey(t), min, "+inf")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	for i, t := range teams {
		out[t] = int(counts[i].Val())
	}
	return out, nil
}

// Online implements store.Presence.
func (s *Inbox) Online(ctx context.Context, team string, since time.Time) ([]string, error) {
	min := strconv.FormatInt(since.UnixMilli(), 10)
	return s.rdb.ZRangeByScore(ctx, s.presenceKey(team), &goredis.ZRangeBy{Min: min, Max: "+inf"}).Result()
}
