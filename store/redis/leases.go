package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Leases keeps each lease (store.Leases) at prefix+"lease:"+name, taken
// with one SET NX PX: the key's expiry, on Redis's clock, ends it.
type Leases struct {
	rdb    goredis.UniversalClient
	prefix string
}

var _ store.Leases = (*Leases)(nil)

// NewLeases returns the leases under prefix.
func NewLeases(rdb goredis.UniversalClient, prefix string) *Leases {
	return &Leases{rdb: rdb, prefix: prefix}
}

// Take implements store.Leases.
func (l *Leases) Take(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	if ttl <= 0 {
		return false, store.ErrLeaseTTL // SET without PX would hold it for ever
	}
	return l.rdb.SetNX(ctx, l.prefix+"lease:"+name, "1", ttl).Result()
}
