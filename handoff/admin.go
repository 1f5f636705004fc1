package handoff

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// AgentChange is what UpdateAgent may change of an agent; a nil field
// stays as it is.
type AgentChange struct {
	Name  *string
	Teams *[]string
	Role  *Role
}

// UpdateAgent changes agent id's name, teams or role, checked as AddAgent
// checks them.
func (s *Store) UpdateAgent(ctx context.Context, id string, c AgentChange) (*Agent, error) {
	a, hash, err := s.st.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Name != nil {
		if strings.TrimSpace(*c.Name) == "" {
			return nil, fmt.Errorf("%w: a name is needed", ErrInvalid)
		}
		a.Name = strings.TrimSpace(*c.Name)
	}
	if c.Role != nil {
		a.Role = *c.Role
	}
	if c.Teams != nil {
		a.Teams = append([]string{}, *c.Teams...)
	}
	if err := checkRoleTeams(a.Role, a.Teams); err != nil {
		return nil, err
	}
	if err := s.st.UpdateAgent(ctx, *a, hash); err != nil {
		return nil, err
	}
	return a, nil
}

func checkRoleTeams(role Role, teams []string) error {
	if role != RoleAgent && role != RoleAdmin && role != RoleMarketer {
		return fmt.Errorf("%w: role must be agent, admin or marketer", ErrInvalid)
	}
	if role == RoleMarketer && len(teams) > 0 {
		return fmt.Errorf("%w: a marketer sees statistics, not chats: give no team", ErrInvalid)
	}
	for _, t := range teams {
		if !teamRE.MatchString(t) {
			return fmt.Errorf("%w: team %q must be lowercase letters, digits and dashes", ErrInvalid, t)
		}
	}
	return nil
}

// SetDisabled disables agent id (they cannot sign in; their sessions and
// API tokens are refused from now on, on every process, as each request
// reads the agent) or enables them again. Disabling also raises the
// agent's Generation, so enabling them later does not bring the old
// sessions back.
func (s *Store) SetDisabled(ctx context.Context, id string, disabled bool) (*Agent, error) {
	a, _, err := s.st.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Disabled == disabled {
		return a, nil
	}
	a.Disabled = disabled
	if disabled {
		a.Generation++
	}
	if err := s.st.UpdateAgent(ctx, *a, nil); err != nil {
		return nil, err
	}
	return a, nil
}

// ResetPassword gives agent id a new password (at least 8 characters) and
// ends their sign-in sessions (a new Generation); API tokens stay.
func (s *Store) ResetPassword(ctx context.Context, id, password string) (*Agent, error) {
	if len(password) < 8 {
		return nil, fmt.Errorf("%w: the password needs at least 8 characters", ErrInvalid)
	}
	a, _, err := s.st.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), s.cost)
	if err != nil {
		return nil, err
	}
	a.Generation++
	if err := s.st.UpdateAgent(ctx, *a, hash); err != nil {
		return nil, err
	}
	return a, nil
}

// RemoveAgent deletes agent id and their API tokens; their sessions end
// (the agent is gone) and their email may be used again. Their chats stay
// where they are.
func (s *Store) RemoveAgent(ctx context.Context, id string) error {
	return s.st.DeleteAgent(ctx, id)
}

// AllTeams returns every team, sorted: those agents are in, those with
// folders, and those an admin configured (SetTeamConfig) before anyone
// joined.
func (s *Store) AllTeams(ctx context.Context) ([]string, error) {
	out, err := s.Teams(ctx)
	if err != nil {
		return nil, err
	}
	listed, err := s.st.ListedTeams(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range listed {
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return out, nil
}

// APITokenInfo returns the API token whose hash is id.
func (s *Store) APITokenInfo(ctx context.Context, id string) (APIToken, error) {
	return s.st.APIToken(ctx, id)
}

// ListedTeams returns the teams with folders or a TeamConfig (not those
// only agents name), in no order: fewer reads than AllTeams.
func (s *Store) ListedTeams(ctx context.Context) ([]string, error) {
	return s.st.ListedTeams(ctx)
}
