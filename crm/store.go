package crm

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors of the package, for the server to map to status codes.
var (
	ErrNotFound  = errors.New("not found")
	ErrInvalid   = errors.New("invalid")
	ErrConflict  = errors.New("conflict")
	ErrForbidden = errors.New("not allowed")
	// errStale is what a commit answers when something it read changed.
	errStale = errors.New("stale read")
)

// Agent is what the CRM knows of an agent, from the inbox's directory.
type Agent struct {
	ID    string
	Name  string
	Email string
	Teams []string
	Admin bool
}

// Directory finds agents, for owners and round robin. The inbox's agent
// store provides it (the server adapts it).
type Directory interface {
	// Agent returns the agent with id, or an error.
	Agent(ctx context.Context, id string) (*Agent, error)
	// AgentByEmail returns the agent with email, or an error.
	AgentByEmail(ctx context.Context, email string) (*Agent, error)
	// TeamAgents returns the agents who are members of team.
	TeamAgents(ctx context.Context, team string) ([]*Agent, error)
	// OnlineAgents returns the ids of the team's agents online now.
	OnlineAgents(ctx context.Context, team string) ([]string, error)
}

// Notice is a notification for one agent: a note for the owner, or a
// record assigned to them.
type Notice struct {
	To           string  // agent id
	Kind         string  // "sales_note"
	Text         string  // one line for the notification
	Record       *Record // the note or record it is about
	Person       *Record // the person, if any
	Conversation string  // the conversation it came from, if any
}

// Options configure a Store.
type Options struct {
	// Prefix starts every key, before the {crm} hash tag; default "pb:".
	Prefix string
	// Agents finds owners; nil: owners must be agent ids, and round robin
	// assigns nobody.
	Agents Directory
	// Notify is called after a note about the owner is created; nil: no
	// notifications.
	Notify func(ctx context.Context, n Notice)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Store keeps the CRM in Redis. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	t      string // key prefix including the hash tag: "pb:{crm}:"
	agents Directory
	notify func(context.Context, Notice)
	now    func() time.Time

	subMu sync.Mutex
	subAt time.Time // when subs was read; zero: read again
	subs  []*Subscription
}

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, o Options) *Store {
	if o.Prefix == "" {
		o.Prefix = "pb:"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{rdb: rdb, t: o.Prefix + "{crm}:", agents: o.Agents, notify: o.Notify, now: o.Now}
}

// Key names, all under the one hash tag.
func (s *Store) recKey(id string) string       { return s.t + "r:" + id }
func (s *Store) listKey(k Kind) string         { return s.t + "list:" + string(k) }
func (s *Store) emailKey(email string) string  { return s.t + "idx:email:" + email }
func (s *Store) phoneKey(phone string) string  { return s.t + "idx:phone:" + phone }
func (s *Store) domainKey(dom string) string   { return s.t + "idx:domain:" + dom }
func (s *Store) orgNameKey(name string) string { return s.t + "idx:orgname:" + strings.ToLower(name) }
func (s *Store) idemKey(key string) string     { return s.t + "idem:" + key }
func (s *Store) convKey(conv string) string    { return s.t + "conv:" + conv }
func (s *Store) resultsKey(conv string) string { return s.t + "conv:" + conv + ":results" }
func (s *Store) feedKey(id string) string      { return s.t + "feed:" + id }
func (s *Store) chatKey(conv string) string    { return s.t + "chat:" + conv }
func (s *Store) archiveKey(conv string) string { return s.t + "transcript:" + conv }
func (s *Store) rrKey(team string) string      { return s.t + "rr:" + team }
func (s *Store) outboxKey() string             { return s.t + "outbox" }
func (s *Store) subsKey() string               { return s.t + "webhooks" }
func (s *Store) dueKey() string                { return s.t + "deliveries:due" }
func (s *Store) leaseKey() string              { return s.t + "deliveries:lease" }
func (s *Store) deadKey() string               { return s.t + "deliveries:dead" }
func (s *Store) deliveryKey(id string) string  { return s.t + "delivery:" + id }
func (s *Store) eventKey(id string) string     { return s.t + "event:" + id }

// idemTTL is how long an idempotency key is remembered.
const idemTTL = 30 * 24 * time.Hour

var idEnc = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random id with the kind's prefix (80 random bits).
func newID(prefix string) string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return prefix + idEnc.EncodeToString(b)
}

// applyScript commits a change that was decided in Go from what it read:
// it refuses when an idempotency key is already used, or when a key it
// read has changed, and otherwise runs every command of the change.
//
//	KEYS: every key the change reads or writes (all under one hash tag).
//	ARGV[1]: "1" when KEYS[1] is an idempotency key: if it is set, reply
//	  {"dup", its value} and change nothing.
//	ARGV[2]: n, the number of checks; then n pairs: key index, the value
//	  the key must still hold ("" = must not exist).
//	then the commands, each as: argument count c, command, key index,
//	  c arguments.
//
// Replies {"ok", id of each XADD...} | {"dup", value} | {"stale", key}.
var applyScript = redis.NewScript(`
if ARGV[1] == '1' then
  local v = redis.call('GET', KEYS[1])
  if v then return {'dup', v} end
end
local i = 3
for c = 1, tonumber(ARGV[2]) do
  local k = KEYS[tonumber(ARGV[i])]
  local want = ARGV[i + 1]
  local got = redis.call('GET', k)
  if want == '' then
    if got then return {'stale', k} end
  elseif got ~= want then
    return {'stale', k}
  end
  i = i + 2
end
local reply = {'ok'}
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  local cmd = ARGV[i + 1]
  local args = {}
  for j = 1, argc do args[j] = ARGV[i + 2 + j] end
  local r = redis.call(cmd, KEYS[tonumber(ARGV[i + 2])], unpack(args))
  if cmd == 'XADD' then reply[#reply + 1] = r end
  i = i + 3 + argc
end
return reply
`)

// change is a batch of commands applyScript commits at once.
type change struct {
	keys   []string
	index  map[string]int
	idem   bool
	checks []any
	nCheck int
	ops    []any
}

func newChange() *change { return &change{index: map[string]int{}} }

func (c *change) key(k string) int {
	if i, ok := c.index[k]; ok {
		return i
	}
	c.keys = append(c.keys, k)
	c.index[k] = len(c.keys)
	return len(c.keys)
}

// idempotent makes k the change's idempotency key; it must come first.
func (c *change) idempotent(k string) {
	c.key(k)
	c.idem = true
}

// expect makes the change refuse when k no longer holds v ("" = absent).
func (c *change) expect(k, v string) {
	c.checks = append(c.checks, c.key(k), v)
	c.nCheck++
}

// do adds a command on key k.
func (c *change) do(cmd, k string, args ...any) {
	c.ops = append(c.ops, len(args), cmd, c.key(k))
	c.ops = append(c.ops, args...)
}

// commit runs the change. It returns the ids of its XADDs, or the value of
// the idempotency key with dup set, or errStale.
func (s *Store) commit(ctx context.Context, c *change) (ids []string, dup string, isDup bool, err error) {
	args := make([]any, 0, 2+len(c.checks)+len(c.ops))
	if c.idem {
		args = append(args, "1")
	} else {
		args = append(args, "0")
	}
	args = append(args, c.nCheck)
	args = append(args, c.checks...)
	args = append(args, c.ops...)
	res, err := applyScript.Run(ctx, s.rdb, c.keys, args...).StringSlice()
	if err != nil {
		return nil, "", false, err
	}
	switch res[0] {
	case "ok":
		return res[1:], "", false, nil
	case "dup":
		return nil, res[1], true, nil
	case "stale":
		return nil, "", false, errStale
	}
	return nil, "", false, fmt.Errorf("crm: unexpected script reply %v", res)
}

// raw is a record as stored, with the exact JSON, for compare-and-set.
type raw struct {
	rec  *Record
	json string
}

// load returns records by id; missing ones are nil.
func (s *Store) load(ctx context.Context, ids ...string) ([]raw, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = s.recKey(id)
	}
	vals, err := s.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make([]raw, len(ids))
	for i, v := range vals {
		if v == "" {
			continue
		}
		var r Record
		if json.Unmarshal([]byte(v), &r) == nil {
			out[i] = raw{rec: &r, json: v}
		}
	}
	return out, nil
}

// mget reads string keys in one round trip ("" for a missing key). Keys
// share one hash tag, so one MGET works on a cluster too.
func (s *Store) mget(ctx context.Context, keys []string) ([]string, error) {
	out := make([]string, len(keys))
	for start := 0; start < len(keys); start += 500 {
		end := min(start+500, len(keys))
		vals, err := s.rdb.MGet(ctx, keys[start:end]...).Result()
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			if str, ok := v.(string); ok {
				out[start+i] = str
			}
		}
	}
	return out, nil
}

// Get returns one record.
func (s *Store) Get(ctx context.Context, id string) (*Record, error) {
	if id == "" || len(id) > 64 {
		return nil, ErrNotFound
	}
	rs, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if rs[0].rec == nil {
		return nil, ErrNotFound
	}
	return rs[0].rec, nil
}

// records returns the records with ids that exist, in order.
func (s *Store) records(ctx context.Context, ids []string) ([]*Record, error) {
	rs, err := s.load(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]*Record, 0, len(rs))
	for _, r := range rs {
		if r.rec != nil {
			out = append(out, r.rec)
		}
	}
	return out, nil
}

// PersonByEmail returns the person with that email (normalized first).
func (s *Store) PersonByEmail(ctx context.Context, email string) (*Record, error) {
	e := NormalizeEmail(email)
	if e == "" {
		return nil, ErrNotFound
	}
	id, err := s.rdb.Get(ctx, s.emailKey(e)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// PersonByPhone returns the person with that phone number.
func (s *Store) PersonByPhone(ctx context.Context, phone string) (*Record, error) {
	p := NormalizePhone(phone)
	if p == "" {
		return nil, ErrNotFound
	}
	id, err := s.rdb.Get(ctx, s.phoneKey(p)).Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Viewer is who is asking, for visibility: an agent, or an admin.
type Viewer struct {
	ID    string
	Teams []string
	Admin bool
}

// CanSee reports whether v may see r: admins see everything; agents what
// they own and what shares a team with them.
func (v Viewer) CanSee(r *Record) bool {
	if r == nil {
		return false
	}
	if v.Admin || (r.Owner != "" && r.Owner == v.ID) {
		return true
	}
	for _, t := range r.Teams {
		if slices.Contains(v.Teams, t) {
			return true
		}
	}
	return false
}

// Query selects records for List.
type Query struct {
	Kind Kind
	// Q matches names, emails, phones, titles and subjects (case-insensitive
	// substring); an email finds its person at once.
	Q string
	// Owner keeps records owned by this agent id.
	Owner string
	// Person keeps records linked to this person.
	Person string
	// Limit caps the answer; default 50, at most 500.
	Limit int
	// Before pages back: only records created before this time.
	Before time.Time
}

// scanLimit bounds how many of the newest records of a kind a search
// looks through.
const scanLimit = 5000

// Count is how many records of a kind there are, of every team.
func (s *Store) Count(ctx context.Context, k Kind) (int64, error) {
	if !validKind(k) {
		return 0, fmt.Errorf("%w: kind %q", ErrInvalid, k)
	}
	return s.rdb.ZCard(ctx, s.listKey(k)).Result()
}

// List returns the records of a kind that v may see and that match q,
// newest first. A text search looks through the newest 5,000 records of
// the kind.
func (s *Store) List(ctx context.Context, v Viewer, q Query) ([]*Record, error) {
	if !validKind(q.Kind) {
		return nil, fmt.Errorf("%w: kind %q", ErrInvalid, q.Kind)
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 500)
	needle := strings.ToLower(strings.TrimSpace(q.Q))
	if q.Kind == KindPerson && NormalizeEmail(needle) != "" {
		p, err := s.PersonByEmail(ctx, needle)
		if errors.Is(err, ErrNotFound) || (err == nil && !v.CanSee(p)) {
			return []*Record{}, nil
		}
		if err != nil {
			return nil, err
		}
		return []*Record{p}, nil
	}
	max := "+inf"
	if !q.Before.IsZero() {
		max = "(" + strconv.FormatInt(q.Before.UnixMilli(), 10)
	}
	out := []*Record{}
	for offset := int64(0); offset < scanLimit && len(out) < q.Limit; offset += 500 {
		ids, err := s.rdb.ZRevRangeByScore(ctx, s.listKey(q.Kind), &redis.ZRangeBy{Min: "-inf", Max: max, Offset: offset, Count: 500}).Result()
		if err != nil {
			return nil, err
		}
		recs, err := s.records(ctx, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range recs {
			if !v.CanSee(r) || (q.Owner != "" && r.Owner != q.Owner) || (q.Person != "" && r.PersonID != q.Person) {
				continue
			}
			if needle != "" && !matches(r, needle) {
				continue
			}
			out = append(out, r)
			if len(out) == q.Limit {
				break
			}
		}
		if len(ids) < 500 {
			break
		}
	}
	return out, nil
}

func matches(r *Record, needle string) bool {
	for _, s := range []string{r.Name, r.Email, r.Phone, r.Title, r.Subject, r.Domain, r.Content, r.OwnerName} {
		if s != "" && strings.Contains(strings.ToLower(s), needle) {
			return true
		}
	}
	if p := NormalizePhone(needle); p != "" && strings.Contains(r.Phone, strings.TrimPrefix(p, "+")) {
		return true
	}
	return false
}

// ConversationContext is what the CRM remembers of a conversation: the
// person and organization it is linked to, the latest lead and deal made
// from it, and the owner its round robins picked, per team.
type ConversationContext struct {
	Person       string
	Organization string
	Lead         string
	Deal         string
	Owners       map[string]string // team → agent id
}

// Context returns what the CRM knows of a conversation.
func (s *Store) Context(ctx context.Context, conv string) (ConversationContext, error) {
	m, err := s.rdb.HGetAll(ctx, s.convKey(conv)).Result()
	if err != nil {
		return ConversationContext{}, err
	}
	c := ConversationContext{Person: m["person"], Organization: m["organization"], Lead: m["lead"], Deal: m["deal"], Owners: map[string]string{}}
	for k, v := range m {
		if team, ok := strings.CutPrefix(k, "owner:"); ok {
			c.Owners[team] = v
		}
	}
	return c, nil
}

// Results returns every record made from a conversation, by the bot or an
// agent, oldest first.
func (s *Store) Results(ctx context.Context, conv string) ([]*Record, error) {
	ids, err := s.rdb.ZRange(ctx, s.resultsKey(conv), 0, 499).Result()
	if err != nil {
		return nil, err
	}
	return s.records(ctx, ids)
}
