package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// agentRecord is an agent as stored, with its password hash.
type agentRecord struct {
	store.Agent
	Hash       []byte `json:"pw"`
	Generation int    `json:"gen,omitempty"` // store.Agent's, which JSON leaves out
}

func getAgent(tx *Tx, id string) (*store.Agent, []byte, error) {
	v, ok, err := tx.Get(K("ha", id))
	if err != nil {
		return nil, nil, err
	}
	if !ok {
		return nil, nil, store.ErrInboxNotFound
	}
	var r agentRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, nil, fmt.Errorf("agent %s: %w", id, err)
	}
	if r.Teams == nil {
		r.Teams = []string{}
	}
	r.Agent.Generation = r.Generation
	return &r.Agent, r.Hash, nil
}

// CreateAgent implements store.Agents in one transaction: the email and
// the record together, or neither.
func (s *Inbox) CreateAgent(ctx context.Context, a store.Agent, hash []byte) error {
	b, err := json.Marshal(agentRecord{Agent: a, Hash: hash, Generation: a.Generation})
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *Tx) error {
		owner, ok, err := tx.Get(K("hae", a.Email))
		if err != nil {
			return err
		}
		if ok {
			if has, err := tx.Has(K("ha", string(owner))); err != nil || has {
				if err == nil {
					err = store.ErrInboxExists
				}
				return err
			}
		}
		if err := tx.Put(K("ha", a.ID), b); err != nil {
			return err
		}
		return tx.Put(K("hae", a.Email), []byte(a.ID))
	})
}

// Agent implements store.Agents.
func (s *Inbox) Agent(ctx context.Context, id string) (*store.Agent, []byte, error) {
	var a *store.Agent
	var hash []byte
	err := s.db.View(ctx, func(tx *Tx) (err error) {
		a, hash, err = getAgent(tx, id)
		return err
	})
	return a, hash, err
}

// AgentIDByEmail implements store.Agents.
func (s *Inbox) AgentIDByEmail(ctx context.Context, email string) (string, error) {
	var id string
	err := s.db.View(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("hae", email))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrInboxNotFound
		}
		id = string(v)
		return nil
	})
	return id, err
}

// AgentList implements store.Agents.
func (s *Inbox) AgentList(ctx context.Context) ([]*store.Agent, error) {
	var out []*store.Agent
	err := s.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("ha"), func(k, v []byte) (bool, error) {
			var r agentRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return false, fmt.Errorf("agent %q: %w", k, err)
			}
			if r.Teams == nil {
				r.Teams = []string{}
			}
			a := r.Agent
			a.Generation = r.Generation
			out = append(out, &a)
			return true, nil
		})
	})
	return out, err
}

// CountAttempt implements store.Agents.
func (s *Inbox) CountAttempt(ctx context.Context, key string, window time.Duration) (int, error) {
	var n int64
	err := s.db.Update(ctx, func(tx *Tx) error {
		k := K("hl", key)
		ok, err := tx.Has(k)
		if err != nil {
			return err
		}
		if !ok {
			n = 1
			return tx.PutTTL(k, i64(1), window)
		}
		n, err = tx.Incr(k, 1)
		return err
	})
	return int(n), err
}

// GiveBackAttempt implements store.Agents.
func (s *Inbox) GiveBackAttempt(ctx context.Context, key string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		k := K("hl", key)
		if ok, err := tx.Has(k); err != nil || !ok {
			return err
		}
		_, err := tx.Incr(k, -1)
		return err
	})
}

type signIn struct {
	Agent string `json:"agent"`
	CSRF  string `json:"csrf"`
}

// SaveSignIn implements store.Agents.
func (s *Inbox) SaveSignIn(ctx context.Context, tokenHash, agent, csrf string, ttl time.Duration) error {
	b, _ := json.Marshal(signIn{agent, csrf})
	return s.db.Update(ctx, func(tx *Tx) error { return tx.PutTTL(K("hs", tokenHash), b, ttl) })
}

// SignIn implements store.Agents.
func (s *Inbox) SignIn(ctx context.Context, tokenHash string) (string, string, error) {
	var si signIn
	err := s.db.View(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("hs", tokenHash))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrInboxNotFound
		}
		return json.Unmarshal(v, &si)
	})
	return si.Agent, si.CSRF, err
}

// DeleteSignIn implements store.Agents.
func (s *Inbox) DeleteSignIn(ctx context.Context, tokenHash string) error {
	return s.db.Update(ctx, func(tx *Tx) error { return tx.Delete(K("hs", tokenHash)) })
}

// UpdateAgent implements store.Agents in one transaction.
func (s *Inbox) UpdateAgent(ctx context.Context, a store.Agent, hash []byte) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		old, oldHash, err := getAgent(tx, a.ID)
		if err != nil {
			return err
		}
		if hash == nil {
			hash = oldHash
		}
		a.Email = old.Email
		b, err := json.Marshal(agentRecord{Agent: a, Hash: hash, Generation: a.Generation})
		if err != nil {
			return err
		}
		return tx.Put(K("ha", a.ID), b)
	})
}

// DeleteAgent implements store.Agents in one transaction: the record, its
// email and its API tokens.
func (s *Inbox) DeleteAgent(ctx context.Context, id string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		a, _, err := getAgent(tx, id)
		if err != nil {
			return err
		}
		var tokens [][]byte
		err = tx.Scan(K("hk"), func(k, v []byte) (bool, error) {
			if decodeAPIToken("", v).Agent == id {
				tokens = append(tokens, append([]byte(nil), k...))
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		for _, k := range tokens {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		if owner, ok, err := tx.Get(K("hae", a.Email)); err != nil {
			return err
		} else if ok && string(owner) == id {
			if err := tx.Delete(K("hae", a.Email)); err != nil {
				return err
			}
		}
		return tx.Delete(K("ha", id))
	})
}

// decodeAPIToken reads a stored API token: JSON, or (before tokens had
// names and expiries) the agent id alone.
func decodeAPIToken(id string, v []byte) store.APIToken {
	var t store.APIToken
	if len(v) > 0 && v[0] == '{' && json.Unmarshal(v, &t) == nil {
		if t.ID == "" {
			t.ID = id
		}
		return t
	}
	return store.APIToken{ID: id, Agent: string(v)}
}

// SaveAPIToken implements store.Agents.
func (s *Inbox) SaveAPIToken(ctx context.Context, t store.APIToken) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *Tx) error { return tx.Put(K("hk", t.ID), b) })
}

// APIToken implements store.Agents.
func (s *Inbox) APIToken(ctx context.Context, id string) (store.APIToken, error) {
	var t store.APIToken
	err := s.db.View(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("hk", id))
		if err != nil {
			return err
		}
		if !ok {
			return store.ErrInboxNotFound
		}
		t = decodeAPIToken(id, v)
		return nil
	})
	return t, err
}

// APITokens implements store.Agents.
func (s *Inbox) APITokens(ctx context.Context) ([]store.APIToken, error) {
	var out []store.APIToken
	err := s.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("hk"), func(k, v []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 2 {
				return false, fmt.Errorf("API token key %q: %v", k, err)
			}
			id, _ := parts[1].(string)
			out = append(out, decodeAPIToken(id, v))
			return true, nil
		})
	})
	return out, err
}

// DeleteAPIToken implements store.Agents.
func (s *Inbox) DeleteAPIToken(ctx context.Context, id string) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		if ok, err := tx.Has(K("hk", id)); err != nil || !ok {
			if err == nil {
				err = store.ErrInboxNotFound
			}
			return err
		}
		return tx.Delete(K("hk", id))
	})
}
