package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Programs keeps the source of every playbook version that sessions run
// on, by content hash, so any process can compile the exact version a
// conversation started on, even after the file changed.
type Programs struct {
	rdb goredis.UniversalClient
	pre string
	ttl time.Duration
}

// Programs returns the version store; versions live at least as long as an
// idle conversation can (the store's TTL, renewed by Keep).
func (s *Store) Programs() *Programs {
	return &Programs{rdb: s.rdb, pre: s.prefix + "prog:", ttl: s.ttl}
}

// Save stores the files of version hash (file name to source).
func (p *Programs) Save(ctx context.Context, hash string, files map[string][]byte) error {
	key := p.pre + hash
	vals := make([]any, 0, 2*len(files))
	for name, src := range files {
		vals = append(vals, name, src)
	}
	pipe := p.rdb.TxPipeline()
	pipe.HSet(ctx, key, vals...)
	pipe.PExpire(ctx, key, p.ttl)
	_, err := pipe.Exec(ctx)
	return err
}

// Keep renews version hash for another TTL; call it while sessions use it.
func (p *Programs) Keep(ctx context.Context, hash string) error {
	return p.rdb.PExpire(ctx, p.pre+hash, p.ttl).Err()
}

// ErrNoVersion is returned for a version that is not stored.
var ErrNoVersion = store.ErrNoVersion

var _ store.Programs = (*Programs)(nil)

// Load returns the files of version hash.
func (p *Programs) Load(ctx context.Context, hash string) (map[string][]byte, error) {
	m, err := p.rdb.HGetAll(ctx, p.pre+hash).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNoVersion
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}
