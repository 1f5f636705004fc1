package embedded

import (
	"context"
	"fmt"
	"time"
)

// SetAvailability implements store.Presence.
func (s *Inbox) SetAvailability(ctx context.Context, agent, availability string) error {
	return s.db.Update(ctx, func(tx *Tx) error { return tx.Put(K("hpa", agent), []byte(availability)) })
}

// Availability implements store.Presence.
func (s *Inbox) Availability(ctx context.Context, agent string) (string, error) {
	var p string
	err := s.db.View(ctx, func(tx *Tx) error {
		v, _, err := tx.Get(K("hpa", agent))
		p = string(v)
		return err
	})
	return p, err
}

// Beat implements store.Presence.
func (s *Inbox) Beat(ctx context.Context, agent string, teams []string, at time.Time) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		for _, t := range teams {
			if err := tx.Put(K("hpb", t, agent), i64(ms(at))); err != nil {
				return err
			}
		}
		return nil
	})
}

// Leave implements store.Presence.
func (s *Inbox) Leave(ctx context.Context, agent string, teams []string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		for _, t := range teams {
			if err := tx.Delete(K("hpb", t, agent)); err != nil {
				return err
			}
		}
		return nil
	})
}

// LastBeat implements store.Presence.
func (s *Inbox) LastBeat(ctx context.Context, agent, team string) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.db.View(ctx, func(tx *Tx) error {
		v, found, err := tx.Get(K("hpb", team, agent))
		if err != nil || !found {
			return err
		}
		at, ok = time.UnixMilli(readI64(v)), true
		return nil
	})
	return at, ok, err
}

// online calls fn with each agent of team that beat at or after since.
func online(tx *Tx, team string, since time.Time, fn func(agent string)) error {
	min := ms(since)
	return tx.Scan(K("hpb", team), func(k, v []byte) (bool, error) {
		if readI64(v) < min {
			return true, nil
		}
		parts, err := SplitKey(k)
		if err != nil || len(parts) != 3 {
			return false, fmt.Errorf("presence key %q: %v", k, err)
		}
		fn(parts[2].(string))
		return true, nil
	})
}

// OnlineCount implements store.Presence.
func (s *Inbox) OnlineCount(ctx context.Context, teams []string, since time.Time) (map[string]int, error) {
	out := make(map[string]int, len(teams))
	err := s.db.View(ctx, func(tx *Tx) error {
		for _, t := range teams {
			out[t] = 0
			if err := online(tx, t, since, func(string) { out[t]++ }); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Online implements store.Presence.
func (s *Inbox) Online(ctx context.Context, team string, since time.Time) ([]string, error) {
	var ids []string
	err := s.db.View(ctx, func(tx *Tx) error {
		return online(tx, team, since, func(a string) { ids = append(ids, a) })
	})
	return ids, err
}
