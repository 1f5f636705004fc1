package store

import (
	"context"
	"slices"
	"time"
)

// Role is what an agent may do: agents act on their teams' conversations,
// admins on all; marketers see the funnel statistics and no conversation.
type Role string

// Roles.
const (
	RoleAgent    Role = "agent"
	RoleAdmin    Role = "admin"
	RoleMarketer Role = "marketer"
)

// Agent is a person who takes chats.
type Agent struct {
	ID    string   `json:"id"`
	Email string   `json:"email"` // normalized: lower case
	Name  string   `json:"name"`
	Teams []string `json:"teams"`
	Role  Role     `json:"role"`
	// Disabled: the agent may not sign in, and every session and API
	// token of theirs is refused.
	Disabled bool `json:"disabled,omitempty"`
	// Generation counts the times the agent was signed out everywhere
	// (disabled, password reset): a sign-in session made under an earlier
	// generation has ended.
	Generation int `json:"-"`
}

// APIToken is an API token as stored: its hash, never the token.
type APIToken struct {
	// ID is the hash of the token (hex SHA-256): it names the token in
	// lists and revocations and cannot be used to sign in.
	ID      string    `json:"id"`
	Agent   string    `json:"agent"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	// Expires is when the token stops working; zero: never.
	Expires time.Time `json:"expires,omitempty"`
}

// Expired reports whether t no longer works at now.
func (t APIToken) Expired(now time.Time) bool { return !t.Expires.IsZero() && !now.Before(t.Expires) }

// InTeam reports whether a is a member of team (admins are in every team).
func (a *Agent) InTeam(team string) bool {
	return a.Role == RoleAdmin || slices.Contains(a.Teams, team)
}

// Agents keeps agents, their sign-in sessions, API tokens and the
// counters of sign-in attempts. Tokens arrive hashed: the store never
// sees one in clear. Unknown ids, emails and tokens are ErrInboxNotFound.
type Agents interface {
	// CreateAgent stores a new agent with its password hash. An email
	// that is already an agent's fails with ErrInboxExists and changes
	// nothing; a crash midway never blocks a retry with the same email.
	CreateAgent(ctx context.Context, a Agent, hash []byte) error
	// Agent returns an agent and its password hash.
	Agent(ctx context.Context, id string) (*Agent, []byte, error)
	// AgentIDByEmail returns the id of the agent with a normalized email.
	AgentIDByEmail(ctx context.Context, email string) (string, error)
	// AgentList returns every agent, in no order.
	AgentList(ctx context.Context) ([]*Agent, error)
	// UpdateAgent stores a's name, teams, role, Disabled and Generation
	// (its email stays), and its password hash when hash is not nil. An
	// unknown id is ErrInboxNotFound.
	UpdateAgent(ctx context.Context, a Agent, hash []byte) error
	// DeleteAgent removes an agent, its email and its API tokens; its
	// email may then be used again. An unknown id is ErrInboxNotFound.
	DeleteAgent(ctx context.Context, id string) error

	// CountAttempt adds one to the counter named key and returns its
	// count in the current window: the window starts with its first
	// attempt and lasts window.
	CountAttempt(ctx context.Context, key string, window time.Duration) (int, error)
	// GiveBackAttempt takes one back, unless the window has ended.
	GiveBackAttempt(ctx context.Context, key string) error

	// SaveSignIn stores a sign-in session under the hash of its token for
	// ttl.
	SaveSignIn(ctx context.Context, tokenHash, agent, csrf string, ttl time.Duration) error
	// SignIn returns a sign-in session's agent id and CSRF token.
	SignIn(ctx context.Context, tokenHash string) (agent, csrf string, err error)
	// DeleteSignIn ends a sign-in session (none is not an error).
	DeleteSignIn(ctx context.Context, tokenHash string) error
	// SaveAPIToken stores an API token under t.ID, the hash of the token.
	SaveAPIToken(ctx context.Context, t APIToken) error
	// APIToken returns the API token whose hash is id (an expired one
	// too: the caller decides).
	APIToken(ctx context.Context, id string) (APIToken, error)
	// APITokens returns every API token, in no order.
	APITokens(ctx context.Context) ([]APIToken, error)
	// DeleteAPIToken revokes the API token whose hash is id; an unknown id
	// is ErrInboxNotFound.
	DeleteAPIToken(ctx context.Context, id string) error
}
