package handoff

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"sort"
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
	if n.Role != RoleAgent && n.Role != RoleAdmin && n.Role != RoleMarketer {
		return nil, fmt.Errorf("%w: role must be agent, admin or marketer", ErrInvalid)
	}
	if n.Role == RoleMarketer && len(n.Teams) > 0 {
		return nil, fmt.Errorf("%w: a marketer sees statistics, not chats: give no team", ErrInvalid)
	}
	for _, t := range n.Teams {
		if !teamRE.MatchString(t) {
			return nil, fmt.Errorf("%w: team %q must be lowercase letters, digits and dashes", ErrInvalid, t)
		}
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
	return sess, s.st.SaveSignIn(ctx, hashToken(sess.Token), a.ID, sess.CSRF, SessionTTL)
}

// SessionByToken returns the signed-in session of a cookie value.
func (s *Store) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	agent, csrf, err := s.st.SignIn(ctx, hashToken(token))
	if err != nil {
		return nil, err
	}
	a, err := s.Agent(ctx, agent)
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, CSRF: csrf, Agent: a}, nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	return s.st.DeleteSignIn(ctx, hashToken(token))
}

// NewAPIToken makes a token for scripts acting as agent id. Only its hash
// is stored; the token is shown once.
func (s *Store) NewAPIToken(ctx context.Context, id string) (string, error) {
	if _, err := s.Agent(ctx, id); err != nil {
		return "", err
	}
	tok := "pbt_" + randomToken(24)
	return tok, s.st.SaveAPIToken(ctx, hashToken(tok), id)
}

// AgentByAPIToken returns the agent of an API token.
func (s *Store) AgentByAPIToken(ctx context.Context, tok string) (*Agent, error) {
	if !strings.HasPrefix(tok, "pbt_") || len(tok) > 100 {
		return nil, ErrNotFound
	}
	id, err := s.st.APIToken(ctx, hashToken(tok))
	if err != nil {
		return nil, err
	}
	return s.Agent(ctx, id)
}
