package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// CreateAgent implements store.Agents in three single-key steps (an
// agent's record, its email and the list of agents are in different slots
// of a Redis Cluster), ordered so that a crash between two of them leaves
// nothing that blocks a retry:
//  1. the record, under a new id nothing points at yet (a crash here
//     leaves an unreachable record: harmless);
//  2. the email claimed for that id: the agent exists from here on. An
//     email that points at no record (half-written by a crash, or by a
//     version before this one on a cluster) is taken over;
//  3. the id added to the list of agents. After a crash before this
//     step the agent can sign in but is not listed; adding the same
//     email again lists it and reports that it exists.
func (s *Inbox) CreateAgent(ctx context.Context, a store.Agent, hash []byte) error {
	teams, _ := json.Marshal(a.Teams)
	agentKey := s.p + "agent:" + a.ID
	if err := s.rdb.HSet(ctx, agentKey, "id", a.ID, "email", a.Email, "name", a.Name, "teams", teams, "role", string(a.Role), "pw", hash,
		"disabled", boolField(a.Disabled), "generation", a.Generation).Err(); err != nil {
		return err
	}
	emailKey := s.p + "agent-email:" + a.Email
	for {
		ok, err := s.rdb.SetNX(ctx, emailKey, a.ID, 0).Result()
		if err != nil {
			return err
		}
		if ok {
			break
		}
		owner, err := s.rdb.Get(ctx, emailKey).Result()
		if errors.Is(err, goredis.Nil) {
			continue // released meanwhile: claim again
		}
		if err != nil {
			return err
		}
		n, err := s.rdb.Exists(ctx, s.p+"agent:"+owner).Result()
		if err != nil {
			return err
		}
		if n == 0 {
			// A claim without a record: take it over, unless it changed.
			took, err := swapValue.Run(ctx, s.rdb, []string{emailKey}, owner, a.ID).Int()
			if err != nil {
				return err
			}
			if took == 1 {
				break
			}
			continue
		}
		// The email is an agent's: make sure it is listed (step 3 of its
		// creation may have been cut short), and drop our record.
		if err := s.rdb.SAdd(ctx, s.p+"agents", owner).Err(); err != nil {
			return err
		}
		if err := s.rdb.Del(ctx, agentKey).Err(); err != nil {
			return err
		}
		return store.ErrInboxExists
	}
	return s.rdb.SAdd(ctx, s.p+"agents", a.ID).Err()
}

// swapValue sets KEYS[1] to ARGV[2] if it is ARGV[1]; 1 if it did.
var swapValue = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
`)

// Agent implements store.Agents.
func (s *Inbox) Agent(ctx context.Context, id string) (*store.Agent, []byte, error) {
	m, err := s.rdb.HGetAll(ctx, s.p+"agent:"+id).Result()
	if err != nil {
		return nil, nil, err
	}
	if len(m) == 0 {
		return nil, nil, store.ErrInboxNotFound
	}
	a := &store.Agent{ID: m["id"], Email: m["email"], Name: m["name"], Role: store.Role(m["role"]), Disabled: m["disabled"] == "1"}
	a.Generation, _ = strconv.Atoi(m["generation"])
	_ = json.Unmarshal([]byte(m["teams"]), &a.Teams)
	if a.Teams == nil {
		a.Teams = []string{}
	}
	return a, []byte(m["pw"]), nil
}

// AgentIDByEmail implements store.Agents.
func (s *Inbox) AgentIDByEmail(ctx context.Context, email string) (string, error) {
	id, err := s.rdb.Get(ctx, s.p+"agent-email:"+email).Result()
	if errors.Is(err, goredis.Nil) {
		return "", store.ErrInboxNotFound
	}
	return id, err
}

// AgentList implements store.Agents.
func (s *Inbox) AgentList(ctx context.Context) ([]*store.Agent, error) {
	ids, err := s.rdb.SMembers(ctx, s.p+"agents").Result()
	if err != nil {
		return nil, err
	}
	var out []*store.Agent
	for _, id := range ids {
		a, _, err := s.Agent(ctx, id)
		if errors.Is(err, store.ErrInboxNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// countAttempt adds one attempt to the counter at key and returns the count
// in the current window; the window starts with the first attempt.
var countAttempt = newScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 or redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// giveBackAttempt takes back one attempt, unless its window has ended (a
// DECR then would leave a key without expiry).
var giveBackAttempt = newScript(`
if redis.call('PTTL', KEYS[1]) > 0 then
	redis.call('DECR', KEYS[1])
end
return 0
`)

// CountAttempt implements store.Agents: one key per script (counters may
// live on different Cluster slots).
func (s *Inbox) CountAttempt(ctx context.Context, key string, window time.Duration) (int, error) {
	return countAttempt.Run(ctx, s.rdb, []string{s.p + "loginfail:" + key}, window.Milliseconds()).Int()
}

// GiveBackAttempt implements store.Agents.
func (s *Inbox) GiveBackAttempt(ctx context.Context, key string) error {
	return giveBackAttempt.Run(ctx, s.rdb, []string{s.p + "loginfail:" + key}).Err()
}

// SaveSignIn implements store.Agents.
func (s *Inbox) SaveSignIn(ctx context.Context, tokenHash, agent, csrf string, ttl time.Duration) error {
	key := s.p + "login:" + tokenHash
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, key, "agent", agent, "csrf", csrf)
	pipe.PExpire(ctx, key, ttl)
	_, err := pipe.Exec(ctx)
	return err
}

// SignIn implements store.Agents.
func (s *Inbox) SignIn(ctx context.Context, tokenHash string) (string, string, error) {
	m, err := s.rdb.HGetAll(ctx, s.p+"login:"+tokenHash).Result()
	if err != nil {
		return "", "", err
	}
	if len(m) == 0 {
		return "", "", store.ErrInboxNotFound
	}
	return m["agent"], m["csrf"], nil
}

// DeleteSignIn implements store.Agents.
func (s *Inbox) DeleteSignIn(ctx context.Context, tokenHash string) error {
	return s.rdb.Del(ctx, s.p+"login:"+tokenHash).Err()
}

func boolField(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// updateAgent sets fields of the agent hash KEYS[1] (ARGV: field, value,
// ...) if it exists; 0 when it does not.
var updateAgent = newScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
`)

// UpdateAgent implements store.Agents: one script on the agent's key.
func (s *Inbox) UpdateAgent(ctx context.Context, a store.Agent, hash []byte) error {
	teams, _ := json.Marshal(a.Teams)
	args := []any{"name", a.Name, "teams", teams, "role", string(a.Role), "disabled", boolField(a.Disabled), "generation", a.Generation}
	if hash != nil {
		args = append(args, "pw", hash)
	}
	n, err := updateAgent.Run(ctx, s.rdb, []string{s.p + "agent:" + a.ID}, args...).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrInboxNotFound
	}
	return nil
}

// DeleteAgent implements store.Agents in single-key steps (the keys are
// in different slots of a Cluster), ordered so that a crash midway leaves
// nothing that signs in: the API tokens, the record (from here on the
// agent is gone: an email or a list entry without its record is skipped
// and taken over), the email, the list entry.
func (s *Inbox) DeleteAgent(ctx context.Context, id string) error {
	a, _, err := s.Agent(ctx, id)
	if err != nil {
		return err
	}
	all, err := s.APITokens(ctx)
	if err != nil {
		return err
	}
	for _, t := range all {
		if t.Agent == id {
			if err := s.rdb.HDel(ctx, s.p+"apitokens", t.ID).Err(); err != nil {
				return err
			}
		}
	}
	if err := s.rdb.Del(ctx, s.p+"agent:"+id).Err(); err != nil {
		return err
	}
	if err := delIfValue.Run(ctx, s.rdb, []string{s.p + "agent-email:" + a.Email}, id).Err(); err != nil {
		return err
	}
	return s.rdb.SRem(ctx, s.p+"agents", id).Err()
}

// delIfValue deletes KEYS[1] if it is ARGV[1].
var delIfValue = newScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

// API tokens live in one hash, apitokens: field the token's hash, value
// its JSON. Tokens made before they had names and expiries are strings
// apitoken:HASH holding the agent id: still accepted, not listed.

// SaveAPIToken implements store.Agents.
func (s *Inbox) SaveAPIToken(ctx context.Context, t store.APIToken) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.rdb.HSet(ctx, s.p+"apitokens", t.ID, b).Err()
}

// APIToken implements store.Agents.
func (s *Inbox) APIToken(ctx context.Context, id string) (store.APIToken, error) {
	v, err := s.rdb.HGet(ctx, s.p+"apitokens", id).Result()
	if err == nil {
		var t store.APIToken
		if err := json.Unmarshal([]byte(v), &t); err != nil {
			return store.APIToken{}, fmt.Errorf("API token %s: %w", id, err)
		}
		return t, nil
	}
	if !errors.Is(err, goredis.Nil) {
		return store.APIToken{}, err
	}
	agent, err := s.rdb.Get(ctx, s.p+"apitoken:"+id).Result()
	if errors.Is(err, goredis.Nil) {
		return store.APIToken{}, store.ErrInboxNotFound
	}
	return store.APIToken{ID: id, Agent: agent}, err
}

// APITokens implements store.Agents.
func (s *Inbox) APITokens(ctx context.Context) ([]store.APIToken, error) {
	m, err := s.rdb.HGetAll(ctx, s.p+"apitokens").Result()
	if err != nil {
		return nil, err
	}
	out := make([]store.APIToken, 0, len(m))
	for id, v := range m {
		var t store.APIToken
		if err := json.Unmarshal([]byte(v), &t); err != nil {
			return nil, fmt.Errorf("API token %s: %w", id, err)
		}
		out = append(out, t)
	}
	return out, nil
}

// DeleteAPIToken implements store.Agents.
func (s *Inbox) DeleteAPIToken(ctx context.Context, id string) error {
	n, err := s.rdb.HDel(ctx, s.p+"apitokens", id).Result()
	if err != nil {
		return err
	}
	m, err := s.rdb.Del(ctx, s.p+"apitoken:"+id).Result()
	if err != nil {
		return err
	}
	if n+m == 0 {
		return store.ErrInboxNotFound
	}
	return nil
}
