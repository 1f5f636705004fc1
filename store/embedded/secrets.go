package embedded

import (
	"context"
	"crypto/hmac"
	"encoding/json"

	"github.com/playbook-dev/playbook/store"
)

// Secrets is the shared token secret of a DB (store.Secrets): K("sec",
// "current") and K("sec", "accepted") (a JSON list).
type Secrets struct{ db *DB }

var _ store.Secrets = (*Secrets)(nil)

// NewSecrets returns the secrets of db.
func NewSecrets(db *DB) *Secrets { return &Secrets{db: db} }

// SyncSecret stores own unless a secret is stored, and returns the stored
// one and the accepted set.
func (s *Secrets) SyncSecret(ctx context.Context, own []byte) ([]byte, [][]byte, error) {
	var cur []byte
	var acc [][]byte
	err := s.db.Update(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("sec", "current"))
		if err != nil {
			return err
		}
		if !ok {
			if err := tx.Put(K("sec", "current"), own); err != nil {
				return err
			}
			v = append([]byte{}, own...)
		}
		cur = v
		acc, err = accepted(tx)
		return err
	})
	return cur, acc, err
}

func accepted(tx *Tx) ([][]byte, error) {
	v, ok, err := tx.Get(K("sec", "accepted"))
	if err != nil || !ok {
		return nil, err
	}
	var out [][]byte
	return out, json.Unmarshal(v, &out)
}

// AcceptSecrets adds secrets to the accepted set.
func (s *Secrets) AcceptSecrets(ctx context.Context, secrets [][]byte) error {
	return s.db.Update(ctx, func(tx *Tx) error {
		acc, err := accepted(tx)
		if err != nil {
			return err
		}
	next:
		for _, n := range secrets {
			for _, a := range acc {
				if hmac.Equal(a, n) {
					continue next
				}
			}
			acc = append(acc, n)
		}
		data, err := json.Marshal(acc)
		if err != nil {
			return err
		}
		return tx.Put(K("sec", "accepted"), data)
	})
}
