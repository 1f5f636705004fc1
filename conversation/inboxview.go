package conversation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// The agent side as the inbox API and the agent feed see it: sign-in,
// presence, the lists, a conversation's transcript and canned responses,
// each read asked of the access policy, answered in protocol types.

// Agent is a signed-in agent: who the access policy decides for. The
// transport keeps it for the length of a request or a feed and hands it
// back to the service; it reads no more than its ID and Name.
type Agent = handoff.Agent

// AgentSession is a sign-in session: Token goes in the cookie, CSRF must
// come back in the X-CSRF-Token header of every change.
type AgentSession struct {
	Token string
	CSRF  string
	Agent *Agent
}

// SessionTTL is how long a sign-in lasts.
const SessionTTL = handoff.SessionTTL

// ErrSignedOut: the session or API token is unknown (ended, revoked or
// never issued).
var ErrSignedOut = access.ErrSignedOut

// signedOut turns the inbox's "no such session or token" into
// ErrSignedOut; other errors (the store did not answer) stay.
func signedOut(err error) error {
	if errors.Is(err, handoff.ErrNotFound) {
		return ErrSignedOut
	}
	return err
}

// SessionHash is how a sign-in session is named on the inbox channel
// (never the token itself).
func SessionHash(token string) string {
	h := sha256.Sum256([]byte("pb-session:" + token))
	return hex.EncodeToString(h[:])
}

// SignIn checks an agent's email and password (sign-in attempts are
// limited per address ip and per account) and opens a session.
func (s *Service) SignIn(ctx context.Context, email, password, ip string) (*AgentSession, error) {
	sess, err := s.inbox.Login(ctx, email, password, ip)
	if err != nil {
		return nil, err
	}
	return &AgentSession{Token: sess.Token, CSRF: sess.CSRF, Agent: sess.Agent}, nil
}

// Session returns the session of a cookie's token: ErrSignedOut when it
// ended.
func (s *Service) Session(ctx context.Context, token string) (*AgentSession, error) {
	sess, err := s.inbox.SessionByToken(ctx, token)
	if err != nil {
		return nil, signedOut(err)
	}
	return &AgentSession{Token: token, CSRF: sess.CSRF, Agent: sess.Agent}, nil
}

// AgentByAPIToken returns the agent of an API token: ErrSignedOut when
// there is none.
func (s *Service) AgentByAPIToken(ctx context.Context, token string) (*Agent, error) {
	a, err := s.inbox.AgentByAPIToken(ctx, token)
	return a, signedOut(err)
}

// SignOut ends the session of token: the agent goes offline and the feeds
// of that session close on every process (an inbox event of type
// session_ended naming SessionHash(token)). An unknown token is no error.
func (s *Service) SignOut(ctx context.Context, token string) {
	sess, err := s.inbox.SessionByToken(ctx, token)
	_ = s.inbox.Logout(ctx, token)
	if err != nil {
		return
	}
	if err := s.inbox.SetPresence(ctx, sess.Agent, handoff.Offline); err != nil {
		s.log.Warn("sign-out: setting the agent offline", "agent", sess.Agent.ID, "err", err)
	}
	s.PublishInbox(ctx, InboxEvent{Type: "session_ended", Session: SessionHash(token)})
}

// Me is GET /api/me for agent a; the transport adds the session's CSRF
// token.
func (s *Service) Me(ctx context.Context, a *Agent) (*protocol.Me, error) {
	p, err := s.inbox.PresenceOf(ctx, a)
	if err != nil {
		return nil, err
	}
	return &protocol.Me{Agent: WireAgent(a), Presence: string(p), Mail: s.MailOn()}, nil
}

// SetPresence sets agent a online, away or offline (else
// handoff.ErrInvalid); an agent who comes online is offered the chats
// waiting in their teams' queues.
func (s *Service) SetPresence(ctx context.Context, a *Agent, status string) error {
	if err := s.inbox.SetPresence(ctx, a, handoff.Presence(status)); err != nil {
		return err
	}
	s.PublishInbox(ctx, InboxEvent{Type: "presence", To: a.ID, Presence: status})
	if handoff.Presence(status) == handoff.Online {
		s.RouteQueued(ctx, a)
	}
	return nil
}

// Available reports whether agent a chose to be online (and their
// heartbeats keep them so): new-chat notices are for them.
func (s *Service) Available(ctx context.Context, a *Agent) (bool, error) {
	p, err := s.inbox.PresenceOf(ctx, a)
	return p == handoff.Online, err
}

// Heartbeat keeps agent a online for the presence timeout.
func (s *Service) Heartbeat(ctx context.Context, a *Agent) error { return s.inbox.Heartbeat(ctx, a) }

// Agents lists every agent with their presence and the number of
// conversations assigned to them.
func (s *Service) Agents(ctx context.Context) ([]protocol.AgentInfo, error) {
	all, err := s.inbox.Agents(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(all))
	for i, a := range all {
		ids[i] = a.ID
	}
	open, err := s.inbox.OpenCount(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.AgentInfo, 0, len(all))
	for _, a := range all {
		p, _ := s.inbox.PresenceOf(ctx, a)
		out = append(out, protocol.AgentInfo{Agent: *WireAgent(a), Presence: string(p), Open: open[a.ID]})
	}
	return out, nil
}

// List returns the conversations of folder (protocol.FolderUnassigned
// when empty) that agent a may see, at most 200, newest first; each
// one's previous ids only as far as a may see them (not the visitor's
// chats with other teams).
func (s *Service) List(ctx context.Context, a *Agent, folder string) ([]*protocol.Conversation, error) {
	if folder == "" {
		folder = handoff.FolderUnassigned
	}
	list, err := s.inbox.List(ctx, a, folder, 200)
	if err != nil {
		return nil, err
	}
	known, err := s.PreviousKnown(ctx, list...)
	if err != nil {
		return nil, err
	}
	out := make([]*protocol.Conversation, len(list))
	for i, c := range list {
		out[i] = viewFor(a, c, known)
	}
	return out, nil
}

// View is conversation c (as an action returned it) as agent a sees it:
// its previous ids only as far as a may see them.
func (s *Service) View(ctx context.Context, a *Agent, c *handoff.Conversation) (*protocol.Conversation, error) {
	if c == nil || len(c.Previous) == 0 {
		return WireConversation(c), nil
	}
	known, err := s.PreviousKnown(ctx, c)
	if err != nil {
		return nil, err
	}
	return viewFor(a, c, known), nil
}

// viewFor is c on the wire with its previous ids cut to those of known
// that a may see; c itself is left as it is.
func viewFor(a *Agent, c *handoff.Conversation, known []*handoff.Conversation) *protocol.Conversation {
	out := WireConversation(c)
	if len(c.Previous) > 0 {
		out.Previous = access.PreviousIDs(a, c.Previous, known)
	}
	return out
}

// ConversationView returns conversation id as agent a may see it
// (access.ErrForbidden when a may not).
func (s *Service) ConversationView(ctx context.Context, a *Agent, id string) (*protocol.Conversation, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return s.View(ctx, a, c)
}

// DetailsView is Details on the wire (GET /api/conversations/{id}).
func (s *Service) DetailsView(ctx context.Context, a *Agent, id string) (*protocol.ConversationDetails, error) {
	d, err := s.Details(ctx, a, id)
	if err != nil {
		return nil, err
	}
	out := &protocol.ConversationDetails{Conversation: WireConversation(d.Conversation), Vars: d.Vars, Records: d.Records,
		Previous: make([]*protocol.Conversation, len(d.Previous)), Outcome: d.Outcome, Card: d.Card, PlaybookTitle: d.PlaybookTitle,
		VarLabels: d.VarLabels, Reopen: d.Reopen}
	for i, p := range d.Previous {
		out.Previous[i] = WireConversation(p)
	}
	if d.SessionStatus != nil {
		st := string(*d.SessionStatus)
		out.SessionStatus = &st
	}
	return out, nil
}

// Transcript returns the entries of conversation id after entry id after
// ("" from the start), private notes included, for agent a (who must be
// allowed to see it). A transcript the CRM's feed links is kept past its
// session's expiry and read as any; once a transcript is gone, the copy an
// older version archived with the CRM, if any, answers.
func (s *Service) Transcript(ctx context.Context, a *Agent, id, after string) ([]protocol.Entry, error) {
	_, entries, err := s.agentTranscript(ctx, a, id, after)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Entry, len(entries))
	for i, e := range entries {
		out[i] = WireEntry(e)
	}
	return out, nil
}

// TranscriptText is the agents' plain-text copy of conversation id
// (private notes included) after entry id after ("" from the start), for
// agent a (who must be allowed to see it).
func (s *Service) TranscriptText(ctx context.Context, a *Agent, id, after string) (string, error) {
	c, entries, err := s.agentTranscript(ctx, a, id, after)
	if err != nil {
		return "", err
	}
	return transcript.Internal(c, entries), nil
}

func (s *Service) agentTranscript(ctx context.Context, a *Agent, id, after string) (*handoff.Conversation, []store.Entry, error) {
	c, err := s.Conversation(ctx, a, id)
	if err != nil {
		return nil, nil, err
	}
	entries, err := s.store.Transcript(ctx, c.ID, after, 0)
	if err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		if archived, ok := s.ArchivedTranscript(ctx, c.ID, after); ok {
			entries = archived
		}
	}
	return c, entries, nil
}

// errNoCanned: no canned response with that id, or one the agent may not
// read (whose id is then not revealed).
var errNoCanned = refuse(handoff.ErrNotFound, "no canned response with that id")

// CannedResponses lists the canned responses agent a may use: their
// teams', their own and the shared ones (access.CanReadCanned), each
// saying whether a may change it.
func (s *Service) CannedResponses(ctx context.Context, a *Agent) ([]protocol.Canned, error) {
	all, err := s.inbox.CannedResponses(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]protocol.Canned, 0, len(all))
	for _, x := range all {
		if access.CanReadCanned(a, x) {
			out = append(out, wireCanned(x, access.EditCanned(a, x) == nil))
		}
	}
	return out, nil
}

// CreateCanned saves a new canned response by agent a: scope team (of
// req.Team, or a's only team), personal or shared, as the access policy
// allows.
func (s *Service) CreateCanned(ctx context.Context, a *Agent, req protocol.CannedRequest) (protocol.Canned, error) {
	n := handoff.Canned{Short: deref(req.Short), Text: deref(req.Text), Scope: req.Scope, Team: req.Team, CreatedBy: a.ID}
	if err := handoff.DefaultScope(&n, a); err != nil {
		return protocol.Canned{}, err
	}
	if err := access.NewCanned(a, &n); err != nil {
		return protocol.Canned{}, err
	}
	created, err := s.inbox.CreateCanned(ctx, n)
	if err != nil {
		return protocol.Canned{}, err
	}
	return wireCanned(created, true), nil
}

// cannedFor loads canned response id for agent a to change: errNoCanned
// when there is none or a may not read it, access.ErrForbidden when a may
// read but not change it.
func (s *Service) cannedFor(ctx context.Context, a *Agent, id string) (*handoff.Canned, error) {
	x, err := s.inbox.CannedByID(ctx, id)
	if errors.Is(err, handoff.ErrNotFound) || (err == nil && !access.CanReadCanned(a, x)) {
		return nil, errNoCanned
	}
	if err != nil {
		return nil, err
	}
	if err := access.EditCanned(a, x); err != nil {
		return nil, err
	}
	return x, nil
}

// UpdateCanned changes the short name and text of canned response id
// (nil fields are kept); its scope and team stay (a request naming others
// is ErrInvalid).
func (s *Service) UpdateCanned(ctx context.Context, a *Agent, id string, req protocol.CannedRequest) (protocol.Canned, error) {
	x, err := s.cannedFor(ctx, a, id)
	if err != nil {
		return protocol.Canned{}, err
	}
	if req.Scope != "" && req.Scope != x.Scope || req.Team != "" && req.Team != x.Team {
		return protocol.Canned{}, refuse(ErrInvalid, "a canned response keeps its scope and team; save a new one instead")
	}
	short, text := x.Short, x.Text
	if req.Short != nil {
		short = *req.Short
	}
	if req.Text != nil {
		text = *req.Text
	}
	nc, err := s.inbox.UpdateCanned(ctx, x.ID, short, text)
	if err != nil {
		return protocol.Canned{}, err
	}
	return wireCanned(nc, true), nil
}

// DeleteCanned deletes canned response id, as agent a may.
func (s *Service) DeleteCanned(ctx context.Context, a *Agent, id string) error {
	x, err := s.cannedFor(ctx, a, id)
	if err != nil {
		return err
	}
	if err := s.inbox.DeleteCanned(ctx, x.ID); err != nil {
		if errors.Is(err, handoff.ErrNotFound) {
			return errNoCanned
		}
		return err
	}
	return nil
}

// wireCanned is canned response x on the wire; editable: the agent may
// change and delete it.
func wireCanned(x *handoff.Canned, editable bool) protocol.Canned {
	return protocol.Canned{ID: x.ID, Short: x.Short, Text: x.Text, Scope: x.Scope, Team: x.Team, Owner: x.Owner,
		CreatedBy: x.CreatedBy, UpdatedAt: x.UpdatedAt, Editable: editable}
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// SessionMaxAge is SessionTTL in whole seconds, for a cookie's Max-Age.
func SessionMaxAge() int { return int(SessionTTL / time.Second) }

// MayEditCanned answers whether agent a may change canned response id:
// nil, or the refusal (as UpdateCanned would answer).
func (s *Service) MayEditCanned(ctx context.Context, a *Agent, id string) error {
	_, err := s.cannedFor(ctx, a, id)
	return err
}
