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
}

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
	// SaveAPIToken stores an API token (by its hash) for an agent.
	SaveAPIToken(ctx context.Context, tokenHash, agent string) error
	// APIToken returns the agent id of an API token.
	APIToken(ctx context.Context, tokenHash string) (string, error)
}
