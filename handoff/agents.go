package handoff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"
)

// Role is what an agent may do: agents act on their teams' conversations,
// admins on all.
type Role string

// Roles.
const (
	RoleAgent Role = "agent"
	RoleAdmin Role = "admin"
)

// Agent is a person who takes chats.
type Agent struct {
	ID    string   `json:"id"`
	Email string   `json:"email"`
	Name  string   `json:"name"`
	Teams []string `json:"teams"`
	Role  Role     `json:"role"`
}

// InTeam reports whether a is a member of team (admins are in every team).
func (a *Agent) InTeam(team string) bool {
	return a.Role == RoleAdmin || slices.Contains(a.Teams, team)
}

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
	if n.Role != RoleAgent && n.Role != RoleAdmin {
		return nil, fmt.Errorf("%w: role must be agent or admin", ErrInvalid)
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
	// Three single-key steps (an agent's record, its email and the list of
	// agents are in different slots of a Redis Cluster), ordered so that a
	// crash between two of them leaves nothing that blocks a retry:
	//  1. the record, under a new id nothing points at yet (a crash here
	//     leaves an unreachable record: harmless);
	//  2. the email claimed for that id: the agent exists from here on. An
	//     email that points at no record (half-written by a crash, or by a
	//     version before this one on a cluster) is taken over;
	//  3. the id added to the list of agents. After a crash before this
	//     step the agent can sign in but is not listed; adding the same
	//     email again lists it and reports that it exists.
	teams, _ := json.Marshal(a.Teams)
	agentKey := s.p + "agent:" + a.ID
	if err := s.rdb.HSet(ctx, agentKey, "id", a.ID, "email", a.Email, "name", a.Name, "teams", teams, "role", string(a.Role), "pw", hash).Err(); err != nil {
		return nil, err
	}
	emailKey := s.p + "agent-email:" + email
	for {
		ok, err := s.rdb.SetNX(ctx, emailKey, a.ID, 0).Result()
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		owner, err := s.rdb.Get(ctx, emailKey).Result()
		if errors.Is(err, redis.Nil) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return nil, err
		}
		n, err := s.rdb.Exists(ctx, s.p+"agent:"+owner).Result()
		if err != nil {
			return nil, err
		}
		if n == 0 {
			// A claim without a record: take it over, unless it changed.
			took, err := swapValue.Run(ctx, s.rdb, []string{emailKey}, owner, a.ID).Int()
			if err != nil {
				return nil, err
			}
			if took == 1 {
				break
			}
			continue
		}
		// The email is an agent's: make sure it is listed (step 3 of its
		// creation may have been cut short), and drop our record.
		if err := s.rdb.SAdd(ctx, s.p+"agents", owner).Err(); err != nil {
			return nil, err
		}
		if err := s.rdb.Del(ctx, agentKey).Err(); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%w: an agent with email %s", ErrExists, email)
	}
	if err := s.rdb.SAdd(ctx, s.p+"agents", a.ID).Err(); err != nil {
		return nil, err
	}
	return a, nil
}

// swapValue sets KEYS[1] to ARGV[2] if it is ARGV[1]; 1 if it did.
var swapValue = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// Agent returns the agent with id.
func (s *Store) Agent(ctx context.Context, id string) (*Agent, error) {
	a, _, err := s.agentWithHash(ctx, id)
	return a, err
}

func (s *Store) agentWithHash(ctx context.Context, id string) (*Agent, []byte, error) {
	m, err := s.rdb.HGetAll(ctx, s.p+"agent:"+id).Result()
	if err != nil {
		return nil, nil, err
	}
	if len(m) == 0 {
		return nil, nil, ErrNotFound
	}
	a := &Agent{ID: m["id"], Email: m["email"], Name: m["name"], Role: Role(m["role"])}
	_ = json.Unmarshal([]byte(m["teams"]), &a.Teams)
	return a, []byte(m["pw"]), nil
}

// AgentByEmail returns the agent with email.
func (s *Store) AgentByEmail(ctx context.Context, email string) (*Agent, error) {
	id, err := s.rdb.Get(ctx, s.p+"agent-email:"+NormalizeEmail(email)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Agent(ctx, id)
}

// Agents returns every agent, by name.
func (s *Store) Agents(ctx context.Context) ([]*Agent, error) {
	ids, err := s.rdb.SMembers(ctx, s.p+"agents").Result()
	if err != nil {
		return nil, err
	}
	var out []*Agent
	for _, id := range ids {
		a, err := s.Agent(ctx, id)
		if err == nil {
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
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

// countAttempt adds one attempt to the counter at key and returns the count
// in the current window; the window starts with the first attempt.
var countAttempt = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// giveBackAttempt takes back one attempt, unless its window has ended (a
// DECR then would leave a key without expiry).
var giveBackAttempt = redis.NewScript(`
if redis.call('PTTL', KEYS[1]) > 0 then
	redis.call('DECR', KEYS[1])
end
return 0
`)

// NormalizeEmail is the form an email is stored and counted under.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Login checks an email and password. Every attempt is counted before the
// password is checked, atomically in Redis, per normalized email and per
// client address (LoginPerEmail, LoginPerAddress in LoginWindow): past the
// limit it refuses with ErrTooMany, even for the right password and even
// when the attempts arrive in parallel, so passwords cannot be guessed
// quickly. A successful sign-in gives its attempt back.
func (s *Store) Login(ctx context.Context, email, password, ip string) (*Session, error) {
	email = NormalizeEmail(email)
	keys := []string{s.p + "loginfail:email:" + email, s.p + "loginfail:ip:" + ip}
	limits := []int{LoginPerEmail, LoginPerAddress}
	var counted []string
	over := false
	for i, k := range keys {
		// One key per script: the keys may live on different Cluster slots.
		n, err := countAttempt.Run(ctx, s.rdb, []string{k}, LoginWindow.Milliseconds()).Int()
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
	a, err := s.AgentByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		// Spend the time a hash comparison takes, so a timing difference
		// does not tell which emails exist.
		_ = bcrypt.CompareHashAndPassword(s.dummyHash(), []byte(password))
		return nil, ErrBadPassword
	}
	if err != nil {
		return nil, err
	}
	_, hash, err := s.agentWithHash(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		return nil, ErrBadPassword
	}
	// The attempt succeeded: it does not count against the account or the
	// address (agents behind one office address sign in all day).
	for _, k := range counted {
		_ = giveBackAttempt.Run(ctx, s.rdb, []string{k}).Err()
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
	key := s.p + "login:" + hashToken(sess.Token)
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "agent", a.ID, "csrf", sess.CSRF)
	pipe.Expire(ctx, key, SessionTTL)
	_, err := pipe.Exec(ctx)
	return sess, err
}

// SessionByToken returns the signed-in session of a cookie value.
func (s *Store) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	m, err := s.rdb.HGetAll(ctx, s.p+"login:"+hashToken(token)).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	a, err := s.Agent(ctx, m["agent"])
	if err != nil {
		return nil, err
	}
	return &Session{Token: token, CSRF: m["csrf"], Agent: a}, nil
}

// Logout ends a session.
func (s *Store) Logout(ctx context.Context, token string) error {
	return s.rdb.Del(ctx, s.p+"login:"+hashToken(token)).Err()
}

// NewAPIToken makes a token for scripts acting as agent id. Only its hash
// is stored; the token is shown once.
func (s *Store) NewAPIToken(ctx context.Context, id string) (string, error) {
	if _, err := s.Agent(ctx, id); err != nil {
		return "", err
	}
	tok := "pbt_" + randomToken(24)
	return tok, s.rdb.Set(ctx, s.p+"apitoken:"+hashToken(tok), id, 0).Err()
}

// AgentByAPIToken returns the agent of an API token.
func (s *Store) AgentByAPIToken(ctx context.Context, tok string) (*Agent, error) {
	if !strings.HasPrefix(tok, "pbt_") || len(tok) > 100 {
		return nil, ErrNotFound
	}
	id, err := s.rdb.Get(ctx, s.p+"apitoken:"+hashToken(tok)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Agent(ctx, id)
}
