package protocol

import "time"

// Team administration: the bodies of /api/admin/... (admins only; see
// docs/protocol.md, "Administration").

// InviteRequest is POST /api/admin/agents: a new agent. A password is
// generated and answered once (Invited), and mailed to them when the
// server has mail.
type InviteRequest struct {
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Teams []string `json:"teams"`
	Role  string   `json:"role"` // agent (default), admin or marketer
}

// Invited answers an invitation or a password reset: the agent and their
// new password, shown this once; Mailed tells whether it was also sent to
// them by email.
type Invited struct {
	Agent    Agent  `json:"agent"`
	Password string `json:"password"`
	Mailed   bool   `json:"mailed"`
}

// AgentUpdate is PUT /api/admin/agents/{id}: what to change (a field left
// out stays).
type AgentUpdate struct {
	Name  *string   `json:"name,omitempty"`
	Teams *[]string `json:"teams,omitempty"`
	Role  *string   `json:"role,omitempty"`
}

// APIToken is an API token as GET /api/admin/tokens lists it: never the
// token itself.
type APIToken struct {
	ID        string     `json:"id"` // the token's hash; DELETE /api/admin/tokens/{id} revokes it
	Agent     string     `json:"agent"`
	AgentName string     `json:"agent_name,omitempty"`
	Name      string     `json:"name,omitempty"`
	Created   time.Time  `json:"created"`
	Expires   *time.Time `json:"expires,omitempty"` // none: until revoked
	Expired   bool       `json:"expired,omitempty"`
}

// TokenRequest is POST /api/admin/tokens: a token acting as Agent, named
// Name, working for ExpiresInDays days (0: until revoked; at most 1825).
type TokenRequest struct {
	Agent         string `json:"agent"`
	Name          string `json:"name"`
	ExpiresInDays int    `json:"expires_in_days"`
}

// NewToken answers POST /api/admin/tokens: the token, shown this once.
type NewToken struct {
	Token string   `json:"token"`
	Info  APIToken `json:"info"`
}

// Team is a team as the Settings screen shows and edits it (GET
// /api/admin/teams, PUT /api/admin/teams/{name}).
type Team struct {
	Name     string `json:"name"`
	Routing  string `json:"routing"`  // manual, round_robin or least_busy
	Capacity int    `json:"capacity"` // open chats per agent under automatic routing; 0: no cap
	Reopen   string `json:"reopen"`   // never or reopen
	// Hours are the team's opening hours for open_hours(), as
	// "mon-fri 09:00-18:00 Europe/Berlin"; "" leaves them to the
	// playbooks' hours.yaml and serve --hours.
	Hours  string   `json:"hours"`
	Agents []string `json:"agents,omitempty"` // ids of its agents (read only)
}

// TestMailResult answers POST /api/admin/mail/test: where the test mail
// went.
type TestMailResult struct {
	To string `json:"to"`
}
