package conversation

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
)

// Team administration (the inbox's Settings screen; admins only, as
// access.Admin decides): agents, API tokens, teams and the test mail. The
// CLI's playbook agents calls the same handoff.Store methods.

// errSelf: an admin may not lock themselves out.
var errSelf = refuse(ErrInvalid, "you cannot disable or remove yourself; ask another admin")

// AdminAgents lists every agent, disabled ones too, for admin a.
func (s *Service) AdminAgents(ctx context.Context, a *Agent) ([]protocol.AgentInfo, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	return s.Agents(ctx)
}

// InviteAgent creates an agent with a generated password, answered once;
// with mail configured the password is also mailed to them, with the
// inbox's address inboxURL.
func (s *Service) InviteAgent(ctx context.Context, a *Agent, req protocol.InviteRequest, inboxURL string) (*protocol.Invited, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	pw := NewPassword()
	n, err := s.inbox.AddAgent(ctx, handoff.NewAgent{Email: req.Email, Name: req.Name, Teams: req.Teams, Role: handoff.Role(req.Role), Password: pw})
	if err != nil {
		return nil, err
	}
	out := &protocol.Invited{Agent: *WireAgent(n), Password: pw}
	out.Mailed = s.mailPassword(ctx, n, pw, inboxURL, "You have been invited to the Playbook inbox.")
	return out, nil
}

// mailPassword mails agent n their new password, when mail is set up;
// false when it is not or the mail failed (the admin passes it on).
func (s *Service) mailPassword(ctx context.Context, n *Agent, pw, inboxURL, intro string) bool {
	if s.cfg.Mail == nil {
		return false
	}
	body := fmt.Sprintf("Hello %s,\n\n%s\n\nSign in at %s with\n  email:    %s\n  password: %s\n\nChange nothing else; your admin can reset the password again.\n", n.Name, intro, inboxURL, n.Email, pw)
	if err := s.cfg.Mail.Send(ctx, n.Email, "Your Playbook inbox sign-in", body); err != nil {
		s.log.Warn("mailing an agent's password", "agent", n.ID, "err", err)
		return false
	}
	return true
}

// NewPassword is a generated password: 16 letters and digits (80 bits).
func NewPassword() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// UpdateAgent changes agent id's name, teams or role. Their open
// sockets pick the change up on their next check.
func (s *Service) UpdateAgent(ctx context.Context, a *Agent, id string, req protocol.AgentUpdate) (*protocol.Agent, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	c := handoff.AgentChange{Name: req.Name, Teams: req.Teams}
	if req.Role != nil {
		r := handoff.Role(*req.Role)
		c.Role = &r
	}
	n, err := s.inbox.UpdateAgent(ctx, id, c)
	if err != nil {
		return nil, err
	}
	s.agentChanged(ctx, n)
	return WireAgent(n), nil
}

// SetAgentDisabled disables agent id (their sessions, sockets and API
// tokens end at once, on every process) or enables them again.
func (s *Service) SetAgentDisabled(ctx context.Context, a *Agent, id string, disabled bool) (*protocol.Agent, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	if disabled && id == a.ID {
		return nil, errSelf
	}
	n, err := s.inbox.SetDisabled(ctx, id, disabled)
	if err != nil {
		return nil, err
	}
	s.agentChanged(ctx, n)
	return WireAgent(n), nil
}

// ResetAgentPassword gives agent id a generated password (answered once,
// mailed when mail is set up) and ends their sign-in sessions.
func (s *Service) ResetAgentPassword(ctx context.Context, a *Agent, id, inboxURL string) (*protocol.Invited, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	pw := NewPassword()
	n, err := s.inbox.ResetPassword(ctx, id, pw)
	if err != nil {
		return nil, err
	}
	s.agentChanged(ctx, n)
	out := &protocol.Invited{Agent: *WireAgent(n), Password: pw}
	out.Mailed = s.mailPassword(ctx, n, pw, inboxURL, "An admin set a new password for your Playbook inbox account.")
	return out, nil
}

// RemoveAgent deletes agent id and their API tokens; their sessions and
// sockets end. Their chats stay where they are.
func (s *Service) RemoveAgent(ctx context.Context, a *Agent, id string) error {
	if err := access.Admin(a); err != nil {
		return err
	}
	if id == a.ID {
		return errSelf
	}
	n, err := s.inbox.Agent(ctx, id)
	if err != nil {
		return err
	}
	// Offline first, so no chat is routed to them meanwhile.
	if err := s.inbox.SetPresence(ctx, n, handoff.Offline); err != nil {
		return err
	}
	if err := s.inbox.RemoveAgent(ctx, id); err != nil {
		return err
	}
	s.agentChanged(ctx, n)
	return nil
}

// agentChanged tells every process that agent n changed: their sockets
// check their session again (and close when it ended); a disabled or
// removed agent goes offline, so no chat is routed to them.
func (s *Service) agentChanged(ctx context.Context, n *Agent) {
	if n.Disabled {
		if err := s.inbox.SetPresence(ctx, n, handoff.Offline); err != nil {
			s.log.Warn("setting a disabled agent offline", "agent", n.ID, "err", err)
		}
	}
	s.PublishInbox(ctx, InboxEvent{Type: "agent_changed", Agent: n.ID})
}

// APITokens lists every API token (never the token itself).
func (s *Service) APITokens(ctx context.Context, a *Agent) ([]protocol.APIToken, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	all, err := s.inbox.APITokens(ctx)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	if agents, err := s.inbox.Agents(ctx); err == nil {
		for _, g := range agents {
			names[g.ID] = g.Name
		}
	}
	out := make([]protocol.APIToken, 0, len(all))
	for _, t := range all {
		out = append(out, s.wireToken(t, names[t.Agent]))
	}
	return out, nil
}

func (s *Service) wireToken(t handoff.APIToken, agentName string) protocol.APIToken {
	w := protocol.APIToken{ID: t.ID, Agent: t.Agent, AgentName: agentName, Name: t.Name, Created: t.Created, Expired: t.Expired(s.now())}
	if !t.Expires.IsZero() {
		e := t.Expires
		w.Expires = &e
	}
	return w
}

// CreateAPIToken makes an API token for an agent, shown once.
func (s *Service) CreateAPIToken(ctx context.Context, a *Agent, req protocol.TokenRequest) (*protocol.NewToken, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	if req.ExpiresInDays < 0 || req.ExpiresInDays > 1825 {
		return nil, refuse(ErrInvalid, "\"expires_in_days\" is from 1 to 1825, or 0 for a token that works until it is revoked")
	}
	owner, err := s.inbox.Agent(ctx, req.Agent)
	if errors.Is(err, handoff.ErrNotFound) {
		return nil, refuse(ErrInvalid, "\"agent\" names no agent")
	}
	if err != nil {
		return nil, err
	}
	tok, t, err := s.inbox.NewAPIToken(ctx, owner.ID, req.Name, time.Duration(req.ExpiresInDays)*24*time.Hour)
	if err != nil {
		return nil, err
	}
	return &protocol.NewToken{Token: tok, Info: s.wireToken(*t, owner.Name)}, nil
}

// RevokeAPIToken ends the API token whose id (hash) is id at once; its
// sockets close.
func (s *Service) RevokeAPIToken(ctx context.Context, a *Agent, id string) error {
	if err := access.Admin(a); err != nil {
		return err
	}
	t, err := s.inbox.APITokenInfo(ctx, id)
	if err != nil {
		return err
	}
	if err := s.inbox.RevokeAPIToken(ctx, id); err != nil {
		return err
	}
	s.PublishInbox(ctx, InboxEvent{Type: "agent_changed", Agent: t.Agent})
	return nil
}

// AdminTeams lists every team with its settings and agents.
func (s *Service) AdminTeams(ctx context.Context, a *Agent) ([]protocol.Team, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	names, err := s.inbox.AllTeams(ctx)
	if err != nil {
		return nil, err
	}
	agents, err := s.inbox.Agents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Team, 0, len(names))
	for _, n := range names {
		cfg, err := s.inbox.TeamConfigOf(ctx, n)
		if err != nil {
			return nil, err
		}
		t := wireTeam(n, cfg)
		for _, g := range agents {
			if g.Role != handoff.RoleAdmin && g.InTeam(n) {
				t.Agents = append(t.Agents, g.ID)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func wireTeam(name string, c handoff.TeamConfig) protocol.Team {
	return protocol.Team{Name: name, Routing: string(c.Routing), Capacity: c.Capacity, Reopen: string(c.Reopen), Hours: c.Hours}
}

// SaveTeam creates or changes team name: routing, capacity, reopen policy
// and opening hours. New hours reach open_hours() on every process (an
// inbox event drops each process's copy).
func (s *Service) SaveTeam(ctx context.Context, a *Agent, name string, t protocol.Team) (*protocol.Team, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	hours := strings.TrimSpace(t.Hours)
	if hours != "" {
		if _, err := ParseTeamHours(hours); err != nil {
			return nil, refuse(ErrInvalid, "\"hours\": "+err.Error())
		}
	}
	if t.Routing == "" {
		t.Routing = string(handoff.Manual)
	}
	cfg := handoff.TeamConfig{Routing: handoff.Routing(t.Routing), Capacity: t.Capacity, Reopen: handoff.ReopenPolicy(t.Reopen), Hours: hours}
	if err := s.inbox.SetTeamConfig(ctx, name, cfg); err != nil {
		return nil, err
	}
	s.teamHours.drop()
	s.PublishInbox(ctx, InboxEvent{Type: "teams_changed"})
	saved, err := s.inbox.TeamConfigOf(ctx, name)
	if err != nil {
		return nil, err
	}
	w := wireTeam(name, saved)
	return &w, nil
}

// TestMail sends a test mail to admin a's own address. A failure is
// answered with the mail server's own words (the admin set it up).
func (s *Service) TestMail(ctx context.Context, a *Agent) (*protocol.TestMailResult, error) {
	if err := access.Admin(a); err != nil {
		return nil, err
	}
	if s.cfg.Mail == nil {
		return nil, ErrNoMail
	}
	body := fmt.Sprintf("Hello %s,\n\nthis is the test mail you asked for in the inbox's Settings. Mail works: invitations, password resets and transcripts can be sent.\n", a.Name)
	if err := s.cfg.Mail.Send(ctx, a.Email, "Playbook test mail", body); err != nil {
		return nil, &Problem{Status: 502, Code: protocol.CodeMailFailed, Message: "the test mail to " + a.Email + " could not be sent: " + err.Error()}
	}
	return &protocol.TestMailResult{To: a.Email}, nil
}

// AdminCheck is access.Admin, for the transport to refuse before it reads
// a body.
func (s *Service) AdminCheck(a *Agent) error { return access.Admin(a) }

// AnnounceAdminChange tells every server process sharing bus what an admin
// changed without a server (playbook agents on Redis): agent's sockets
// check their session or token again (agent "" for none); teams: the
// teams' opening hours are read again.
func AnnounceAdminChange(ctx context.Context, bus Publisher, inbox *handoff.Store, agent string, teams bool) error {
	var evs []InboxEvent
	if agent != "" {
		evs = append(evs, InboxEvent{Type: "agent_changed", Agent: agent})
	}
	if teams {
		evs = append(evs, InboxEvent{Type: "teams_changed"})
	}
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if err := bus.Publish(ctx, inbox.InboxChannel(), string(b)); err != nil {
			return err
		}
	}
	return nil
}
