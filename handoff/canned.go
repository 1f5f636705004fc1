package handoff

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Canned response scopes: who reads and edits one is decided by the
// access package from these fields.
const (
	// CannedTeam: the agents of Team read and edit it; admins too.
	CannedTeam = "team"
	// CannedPersonal: only its author (Owner) reads and edits it.
	CannedPersonal = "personal"
	// CannedShared: every agent reads it; admins edit it. Canned responses
	// saved before they had owners (one global list) became these.
	CannedShared = "shared"
)

// Canned is a saved reply, inserted by typing /Short in the composer.
type Canned struct {
	ID    string `json:"id"`
	Short string `json:"short"`
	Text  string `json:"text"`
	Scope string `json:"scope"`
	// Team is the owning team (scope team).
	Team string `json:"team,omitempty"`
	// Owner is the author's agent id (scope personal).
	Owner string `json:"owner,omitempty"`
	// CreatedBy is the agent id of whoever wrote it ("" for migrated ones).
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Keys: one hash of canned responses by id, one index of ids by scope and
// short name (so a short name is unique within its team, its author's
// list, or the shared list). Both carry the {canned} hash tag: every
// script below touches one slot.
func (s *Store) cannedKey() string      { return s.p + "{canned}:items" }
func (s *Store) cannedIndexKey() string { return s.p + "{canned}:index" }
func (s *Store) legacyCannedKey() string {
	return s.p + "canned" // short -> text, from before canned responses had owners
}

func (c *Canned) indexField() string {
	switch c.Scope {
	case CannedTeam:
		return "team:" + c.Team + ":" + c.Short
	case CannedPersonal:
		return "personal:" + c.Owner + ":" + c.Short
	}
	return "shared:" + c.Short
}

// DefaultScope fills in what a new canned response by agent a leaves out:
// no scope is their team's when they have one team, else their own; a
// personal one is a's. An agent of several teams names the team.
func (c *Canned) DefaultScope(a *Agent) error {
	if c.Scope == "" && c.Team != "" {
		c.Scope = CannedTeam
	}
	if c.Scope == "" {
		switch len(a.Teams) {
		case 0:
			c.Scope = CannedPersonal
		case 1:
			c.Scope = CannedTeam
		default:
			return fmt.Errorf("%w: say which team the canned response is for (one of %s), or scope personal", ErrInvalid, strings.Join(a.Teams, ", "))
		}
	}
	if c.Scope == CannedTeam && c.Team == "" {
		if len(a.Teams) != 1 {
			return fmt.Errorf("%w: say which team the canned response is for", ErrInvalid)
		}
		c.Team = a.Teams[0]
	}
	if c.Scope == CannedPersonal {
		c.Owner = a.ID
	}
	return nil
}

var cannedShortRE = regexp.MustCompile(`^[\p{L}\p{N}_-]{1,40}$`)

// NormalizeShort is how a short name is stored: without a leading /,
// spaces as dashes, lower case ("/Sales Pitch" is "sales-pitch").
func NormalizeShort(short string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(short), "/")), " ", "-"))
}

func checkCanned(c *Canned) error {
	c.Short = NormalizeShort(c.Short)
	if !cannedShortRE.MatchString(c.Short) {
		return fmt.Errorf("%w: a short name is 1 to 40 letters, digits, - or _", ErrInvalid)
	}
	if strings.TrimSpace(c.Text) == "" || len([]rune(c.Text)) > 4000 {
		return fmt.Errorf("%w: a canned response needs a text of 1 to 4,000 characters", ErrInvalid)
	}
	switch c.Scope {
	case CannedTeam:
		if !teamRE.MatchString(c.Team) {
			return fmt.Errorf("%w: a team's canned response needs its team", ErrInvalid)
		}
		c.Owner = ""
	case CannedPersonal:
		if c.Owner == "" {
			return fmt.Errorf("%w: a personal canned response needs its author", ErrInvalid)
		}
		c.Team = ""
	case CannedShared:
		c.Team, c.Owner = "", ""
	default:
		return fmt.Errorf("%w: scope is team, personal or shared", ErrInvalid)
	}
	return nil
}

var createCanned = redis.NewScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 'ok'
`)

// CreateCanned stores a new canned response and returns it with its id.
// A short name already used in the same team (or the same author's, or
// the shared list) fails with ErrExists.
func (s *Store) CreateCanned(ctx context.Context, c Canned) (*Canned, error) {
	if err := checkCanned(&c); err != nil {
		return nil, err
	}
	if err := s.migrateCanned(ctx); err != nil {
		return nil, err
	}
	c.ID, c.UpdatedAt = "cr_"+randomToken(10), s.now().UTC()
	b, _ := json.Marshal(c)
	res, err := createCanned.Run(ctx, s.rdb, []string{s.cannedKey(), s.cannedIndexKey()}, c.indexField(), c.ID, string(b)).Text()
	if err != nil {
		return nil, err
	}
	if res == "exists" {
		return nil, fmt.Errorf("%w: a canned response /%s", ErrExists, c.Short)
	}
	return &c, nil
}

// CannedResponses returns every canned response, by short name; the
// caller shows each reader those the access policy lets them see.
func (s *Store) CannedResponses(ctx context.Context) ([]*Canned, error) {
	if err := s.migrateCanned(ctx); err != nil {
		return nil, err
	}
	m, err := s.rdb.HGetAll(ctx, s.cannedKey()).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*Canned, 0, len(m))
	for _, v := range m {
		c := &Canned{}
		if json.Unmarshal([]byte(v), c) == nil {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Short != out[j].Short {
			return out[i].Short < out[j].Short
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// CannedByID returns one canned response, or ErrNotFound.
func (s *Store) CannedByID(ctx context.Context, id string) (*Canned, error) {
	c, _, err := s.cannedByID(ctx, id)
	return c, err
}

func (s *Store) cannedByID(ctx context.Context, id string) (*Canned, string, error) {
	if err := s.migrateCanned(ctx); err != nil {
		return nil, "", err
	}
	if id == "" || len(id) > 100 {
		return nil, "", ErrNotFound
	}
	v, err := s.rdb.HGet(ctx, s.cannedKey(), id).Result()
	if errors.Is(err, redis.Nil) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	c := &Canned{}
	if err := json.Unmarshal([]byte(v), c); err != nil {
		return nil, "", fmt.Errorf("canned response %s: %w", id, err)
	}
	return c, v, nil
}

var updateCanned = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 'missing' end
if cur ~= ARGV[2] then return 'stale' end
if ARGV[3] ~= ARGV[4] then
  if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return 'exists' end
  if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
end
if ARGV[5] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[4])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
end
return 'ok'
`)

// UpdateCanned changes a canned response's short name and text; its scope
// and owner stay. ErrNotFound when it is gone, ErrExists when the new short
// name is taken in its scope.
func (s *Store) UpdateCanned(ctx context.Context, id, short, text string) (*Canned, error) {
	return s.changeCanned(ctx, id, func(c *Canned) error {
		c.Short, c.Text = short, text
		return checkCanned(c)
	})
}

// DeleteCanned removes a canned response; ErrNotFound when there is none
// with that id.
func (s *Store) DeleteCanned(ctx context.Context, id string) error {
	_, err := s.changeCanned(ctx, id, nil)
	return err
}

// changeCanned applies change to the stored canned response (nil deletes
// it) if nobody changed it meanwhile, else reads it again and retries.
func (s *Store) changeCanned(ctx context.Context, id string, change func(*Canned) error) (*Canned, error) {
	for try := 0; try < 10; try++ {
		c, raw, err := s.cannedByID(ctx, id)
		if err != nil {
			return nil, err
		}
		oldField, newJSON := c.indexField(), ""
		if change != nil {
			if err := change(c); err != nil {
				return nil, err
			}
			c.UpdatedAt = s.now().UTC()
			b, _ := json.Marshal(c)
			newJSON = string(b)
		}
		res, err := updateCanned.Run(ctx, s.rdb, []string{s.cannedKey(), s.cannedIndexKey()}, id, raw, oldField, c.indexField(), newJSON).Text()
		if err != nil {
			return nil, err
		}
		switch res {
		case "missing":
			return nil, ErrNotFound
		case "exists":
			return nil, fmt.Errorf("%w: a canned response /%s", ErrExists, c.Short)
		case "ok":
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: the canned response kept changing", ErrTaken)
}

var migrateCanned = redis.NewScript(`
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 'ok'
`)

// migrateCanned moves the canned responses of the old global list (short
// name -> text) into the shared scope: every agent reads them, admins edit
// them. Ids are derived from the short name, so processes migrating at
// once write the same records.
func (s *Store) migrateCanned(ctx context.Context) error {
	old, err := s.rdb.HGetAll(ctx, s.legacyCannedKey()).Result()
	if err != nil || len(old) == 0 {
		return err
	}
	for short, text := range old {
		h := sha256.Sum256([]byte(short))
		c := Canned{ID: "cr_" + hex.EncodeToString(h[:8]), Short: short, Text: text, Scope: CannedShared, UpdatedAt: s.now().UTC()}
		b, _ := json.Marshal(c)
		if err := migrateCanned.Run(ctx, s.rdb, []string{s.cannedKey(), s.cannedIndexKey()}, c.indexField(), c.ID, string(b)).Err(); err != nil {
			return err
		}
		if err := s.rdb.HDel(ctx, s.legacyCannedKey(), short).Err(); err != nil {
			return err
		}
	}
	return nil
}
