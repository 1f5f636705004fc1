package handoff

import (
	"context"
	"time"
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

// SetPresence records an agent's choice and, for online, counts as a
// heartbeat.
func (s *Store) SetPresence(ctx context.Context, a *Agent, p Presence) error {
	switch p {
	case Online, Away, Offline:
	default:
		return ErrInvalid
	}
	if err := s.st.SetAvailability(ctx, a.ID, string(p)); err != nil {
		return err
	}
	if p == Online {
		return s.Heartbeat(ctx, a)
	}
	return s.st.Leave(ctx, a.ID, a.Teams)
}

// PresenceOf returns an agent's chosen availability and whether heartbeats
// still keep it alive: an online agent whose browser died reads as offline.
func (s *Store) PresenceOf(ctx context.Context, a *Agent) (Presence, error) {
	p, err := s.st.Availability(ctx, a.ID)
	if err != nil {
		return Offline, err
	}
	if p == "" {
		return Offline, nil
	}
	if Presence(p) != Online || len(a.Teams) == 0 {
		return Presence(p), nil
	}
	at, ok, err := s.st.LastBeat(ctx, a.ID, a.Teams[0])
	if err != nil {
		return Offline, err
	}
	if !ok || at.Before(s.since()) {
		return Offline, nil
	}
	return Online, nil
}

// since is the oldest heartbeat that keeps an agent online now.
func (s *Store) since() time.Time { return s.now().Add(-s.online) }

// Heartbeat keeps an online agent online for the presence timeout. It does
// nothing for an agent who chose away or offline.
func (s *Store) Heartbeat(ctx context.Context, a *Agent) error {
	p, err := s.st.Availability(ctx, a.ID)
	if err != nil {
		return err
	}
	if Presence(p) != Online {
		return nil
	}
	return s.st.Beat(ctx, a.ID, a.Teams, s.now())
}

// OnlineCount returns how many agents of each team are online.
func (s *Store) OnlineCount(ctx context.Context, teams []string) (map[string]int, error) {
	return s.st.OnlineCount(ctx, teams, s.since())
}

// OnlineAgents returns the ids of a team's online agents.
func (s *Store) OnlineAgents(ctx context.Context, team string) ([]string, error) {
	return s.st.Online(ctx, team, s.since())
}
