package handoff

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/store"
)

// Role is what an agent may do: agents act on their teams' conversations,
// admins on all; marketers see the funnel statistics and no conversation.
type Role = store.Role

// Roles.
const (
	RoleAgent    = store.RoleAgent
	RoleAdmin    = store.RoleAdmin
	RoleMarketer = store.RoleMarketer
)

// Agent is a person who takes chats.
type Agent = store.Agent

// NewAgent is what AddAgent needs.
type NewAgent struct {
	Email    string
	Name     string
	Teams    []string
	Role     Role
	Password string // at least 8 characters; stored as a bcrypt hash
}

var teamRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// AddAgent creates an agent; the email must be new.
func (s *Store) AddAgent(ctx context.Context, n NewAgent) (*Agent, error) {
	addr, err := mail.ParseAddress(n.Email)
	if err != nil {
		return nil, fmt.Errorf("%w: email %q", ErrInvalid, n.Email)
	}
	email := strings.ToLower(addr.Address)
	if strings.TrimSpace(n.Name) == "" {
		return nil, fmt.Errorf("%w: a name is needed", ErrInvalid)
	}
	if len(n.Password) < 8 {
		return nil, fmt.Errorf("%w: the password needs at least 8 characters", ErrInvalid)
	}
	if n.Role == "" {
		n.Role = RoleAgent
	}
	if err := checkRoleTeams(n.Role, n.Teams); err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(n.Password), s.cost)
	if err != nil {
		return nil, err
	}
	a := &Agent{ID: randomToken(10), Email: email, Name: strings.TrimSpace(n.Name), Teams: n.Teams, Role: n.Role}
	if a.Teams == nil {
		a.Teams = []string{}
	}
	if err := s.st.CreateAgent(ctx, *a, hash); err != nil {
		if errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("%w: an agent with email %s", ErrExists, email)
		}
		return nil, err
	}
	return a, nil
}

// Agent returns the agent with id.
func (s *Store) Agent(ctx context.Context, id string) (*Agent, error) {
	a, _, err := s.st.Agent(ctx, id)
	return a, err
}

// AgentByEmail returns the agent with email.
func (s *Store) AgentByEmail(ctx context.Context, email string) (*Agent, error) {
	id, err := s.st.AgentIDByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		return nil, err
	}
	return s.Agent(ctx, id)
}

// Agents returns every agent, by name.
func (s *Store) Agents(ctx context.Context) ([]*Agent, error) {
	out, err := s.st.AgentList(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Teams returns the teams agents are in, sorted: the teams a conversation
// can be transferred to.
func (s *Store) Teams(ctx context.Context) ([]string, error) {
	all, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range all {
		for _, t := range a.Teams {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

func truncateRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// AgentByName finds an agent by a mention: the first name or the whole name,
// case-insensitively, with spaces removed ("@sam", "@SamLee").
func (s *Store) AgentByName(ctx context.Context, mention string) (*Agent, error) {
	all, err := s.Agents(ctx)
	if err != nil {
		return nil, err
	}
	m := strings.ToLower(mention)
	for _, a := range all {
		full := strings.ToLower(strings.ReplaceAll(a.Name, " ", ""))
		first := strings.ToLower(strings.Fields(a.Name + " x")[0])
		if m == full || m == first || m == strings.ToLower(strings.Split(a.Email, "@")[0]) {
			return a, nil
		}
	}
	return nil, ErrNotFound
}

// Login limits: within LoginWindow, at most LoginPerEmail attempts for one
// account (its email normalized: case and surrounding space do not give
// fresh tries) and LoginPerAddress attempts from one client address,
// whatever the emails. Successful sign-ins do not count.
const (
	LoginPerEmail   = 5
	LoginPerAddress = 20
	LoginWindow     = time.Minute
)

// NormalizeEmail is the form an email is stored and counted under.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Login checks an email and password. Every attempt is counted before the
// password is checked, atomically in the store, per normalized email and
// per client address (LoginPerEmail, LoginPerAddress in LoginWindow): past
// the limit it refuses with ErrTooMany, even for the right password and
// even when the attempts arrive in parallel, so passwords cannot be
// guessed quickly. A successful sign-in gives its attempt back.
func (s *Store) Login(ctx context.Context, email, password, ip string) (*Session, error) {
	email = NormalizeEmail(email)
	keys := []string{"email:" + email, "ip:" + ip}
	limits := []int{LoginPerEmail, LoginPerAddress}
	var counted []string
	over := false
	for i, k := range keys {
		n, err := s.st.CountAttempt(ctx, k, LoginWindow)
		if err != nil {
			return nil, err
		}
		counted = append(counted, k)
		if n > limits[i] {
			over = true
			break
		}
	}
	if over {
		return nil, ErrTooMany
	}
	id, err := s.st.AgentIDByEmail(ctx, email)
	var a *Agent
	var hash []byte
	if err == nil {
		a, hash, err = s.st.Agent(ctx, id)
	}
	if errors.Is(err, ErrNotFound) {
		// Spend the time a hash comparison takes, so a timing difference
		// does not tell which emails exist.
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return nil, ErrBadPassword
	}
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return nil, ErrBadPassword
	}
	if a.Disabled {
		// Said only to who knows the password.
		return nil, ErrDisabled
	}
	// The attempt succeeded: it does not count against the account or the
	// address (agents behind one office address sign in all day).
	for _, k := range counted {
		_ = s.st.GiveBackAttempt(ctx, k)
	}
	return s.newSession(ctx, a)
}

// dummyHash is a hash of the store's cost, for unknown emails to take as
// long as known ones.
func (s *Store) dummyHash() []byte {
	s.dummyOnce.Do(func() {
		s.dummy, _ = bcrypt.GenerateFromPassword([]byte("not a real password"), s.cost)
	})
	return s.dummy
}

// Session is a signed-in browser.
type Session struct {
	Token string // the cookie value; only its hash is stored
	CSRF  string // must come back in X-CSRF-Token on every change
	Agent *Agent
}

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 12 * time.Hour

func (s *Store) newSession(ctx context.Context, a *Agent) (*Session, error) {
	sess := &Session{Token: randomToken(20), CSRF: randomToken(16), Agent: a}
	return sess, s.st.SaveSignIn(ctx, hashToken(sess.Token), sessionAgent(a), sess.CSRF, SessionTTL)
}

// sessionAgent is how a sign-in session names its agent: the id, and
// "/N" after it when the agent's Generation N is not 0. A session whose
// generation is not the agent's current one has ended (the agent was
// disabled or their password reset since).
func sessionAgent(a *Agent) string {
	if a.Generation == 0 {
		return a.ID
	}
	return a.ID + "/" + strconv.Itoa(a.Generation)
}

// SessionByToken returns the signed-in session of a cookie value.
func (s *Store) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	ref, csrf, err := s.st.SignIn(ctx, hashToken(token))
	if err != nil {
		return nil, err
	}
	id, _, _ := strings.Cut(ref, "/")
	a, err := s.Agent(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.Disabled || sessionAgent(a) != ref {
		return nil, ErrNotFound
	}
	return &Session{Token: token, CSRF: csrf, Agent: a}, nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	return s.st.DeleteSignIn(ctx, hashToken(token))
}

// MaxTokenTTL bounds how long an API token may last.
const MaxTokenTTL = 5 * 365 * 24 * time.Hour

// NewAPIToken makes a token for scripts acting as agent id, named name,
// that works for ttl (0: until revoked; at most MaxTokenTTL). Only its
// hash is stored; the token is shown once.
func (s *Store) NewAPIToken(ctx context.Context, id, name string, ttl time.Duration) (string, *APIToken, error) {
	if ttl < 0 || ttl > MaxTokenTTL {
		return "", nil, fmt.Errorf("%w: a token expires within 5 years (no expiry: until revoked)", ErrInvalid)
	}
	if len([]rune(name)) > 100 {
		return "", nil, fmt.Errorf("%w: a token's name has at most 100 characters", ErrInvalid)
	}
	if _, err := s.Agent(ctx, id); err != nil {
		return "", nil, err
	}
	tok := "pbt_" + randomToken(24)
	now := s.now().UTC().Truncate(time.Second)
	t := APIToken{ID: hashToken(tok), Agent: id, Name: strings.TrimSpace(name), Created: now}
	if ttl > 0 {
		t.Expires = now.Add(ttl)
	}
	if err := s.st.SaveAPIToken(ctx, t); err != nil {
		return "", nil, err
	}
	return tok, &t, nil
}

// APIToken is an API token as stored: its hash (ID), never the token.
type APIToken = store.APIToken

// APITokens returns every API token, newest first.
func (s *Store) APITokens(ctx context.Context) ([]APIToken, error) {
	out, err := s.st.APITokens(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// RevokeAPIToken ends the API token whose hash is id at once.
func (s *Store) RevokeAPIToken(ctx context.Context, id string) error {
	return s.st.DeleteAPIToken(ctx, id)
}

// AgentByAPIToken returns the agent of an API token: ErrNotFound when the
// token is unknown, revoked, expired or its agent disabled.
func (s *Store) AgentByAPIToken(ctx context.Context, tok string) (*Agent, error) {
	if !strings.HasPrefix(tok, "pbt_") || len(tok) > 100 {
		return nil, ErrNotFound
	}
	t, err := s.st.APIToken(ctx, hashToken(tok))
	if err != nil {
		return nil, err
	}
	if t.Expired(s.now()) {
		return nil, ErrNotFound
	}
	a, err := s.Agent(ctx, t.Agent)
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		return nil, ErrNotFound
	}
	return a, nil
}
