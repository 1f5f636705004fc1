package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Secrets keeps the shared token secret (store.Secrets) at prefix+"secret"
// and the accepted set at prefix+"secrets".
type Secrets struct {
	rdb      goredis.UniversalClient
	key, set string
}

var _ store.Secrets = (*Secrets)(nil)

// NewSecrets returns the shared secrets under prefix.
func NewSecrets(rdb goredis.UniversalClient, prefix string) *Secrets {
	return &Secrets{rdb: rdb, key: prefix + "secret", set: prefix + "secrets"}
}

// SyncSecret stores own unless a secret is stored (SET NX), in one round
// trip with reading the stored one and the accepted set.
func (s *Secrets) SyncSecret(ctx context.Context, own []byte) ([]byte, [][]byte, error) {
	pipe := s.rdb.Pipeline()
	pipe.SetNX(ctx, s.key, own, 0)
	cur := pipe.Get(ctx, s.key)
	members := pipe.SMembers(ctx, s.set)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, nil, err
	}
	stored, err := cur.Bytes()
	if err != nil {
		return nil, nil, err
	}
	var acc [][]byte
	for _, m := range members.Val() {
		acc = append(acc, []byte(m))
	}
	return stored, acc, nil
}

// AcceptSecrets adds secrets to the accepted set.
func (s *Secrets) AcceptSecrets(ctx context.Context, secrets [][]byte) error {
	if len(secrets) == 0 {
		return nil
	}
	ms := make([]any, len(secrets))
	for i, sec := range secrets {
		ms[i] = string(sec)
	}
	return s.rdb.SAdd(ctx, s.set, ms...).Err()
}
