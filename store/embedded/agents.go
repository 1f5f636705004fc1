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
	Hash []byte `json:"pw"`
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
	return &r.Agent, r.Hash, nil
}

// CreateAgent implements store.Agents in one transaction: the email and
// the record together, or neither.
func (s *Inbox) CreateAgent(ctx context.Context, a store.Agent, hash []byte) error {
	b, err := json.Marshal(agentRecord{Agent: a, Hash: hash})
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

// SaveAPIToken implements store.Agents.
func (s *Inbox) SaveAPIToken(ctx context.Context, tokenHash, agent string) error {
	return s.db.Update(ctx, func(tx *Tx) error { return tx.Put(K("hk", tokenHash), []byte(agent)) })
}

// APIToken implements store.Agents.
func (s *Inbox) APIToken(ctx context.Context, tokenHash string) (string, error) {
	var id string
	err := s.db.View(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("hk", tokenHash))
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
