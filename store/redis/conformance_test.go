package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// target is a Redis to run the suite on: a fresh prefix, and a new client
// for every instance (another process's connection).
type target struct {
	prefix string
	client func() goredis.UniversalClient
	// advance moves the in-process stand-in's clock (nil on a real Redis,
	// where time passes by itself).
	advance func(time.Duration)
}

// targets returns the single node (PLAYBOOK_REDIS_URL) and the cluster
// (PLAYBOOK_REDIS_CLUSTER) for subtests; the cluster's is skipped without
// one.
//
// Each runs twice more with every client's commands batched across
// goroutines (redisstore.Coalesce, as serve --redis-batch-window does):
// "node-batched" and "cluster-batched".
func forEach(t *testing.T, run func(t *testing.T, open func(t *testing.T) target)) {
	for _, batched := range []bool{false, true} {
		name := ""
		if batched {
			name = "-batched"
		}
		t.Run("node"+name, func(t *testing.T) {
			run(t, func(t *testing.T) target {
				srv := redistest.New(t)
				tg := target{prefix: srv.Prefix, client: func() goredis.UniversalClient {
					c := goredis.NewClient(srv.Client.Options())
					t.Cleanup(func() { c.Close() })
					return batch(t, c, batched)
				}}
				if srv.Mini != nil {
					tg.advance = srv.Mini.FastForward
				}
				return tg
			})
		})
		t.Run("cluster"+name, func(t *testing.T) {
			redistest.NewCluster(t) // skips without a cluster
			run(t, func(t *testing.T) target {
				cl := redistest.NewCluster(t)
				return target{prefix: cl.Prefix, client: func() goredis.UniversalClient {
					c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
					t.Cleanup(func() { c.Close() })
					return batch(t, c, batched)
				}}
			})
		})
	}
}

// batch installs a Coalescer (no window: batches of what arrives while
// others are on the wire) on c when batched, closed when t ends.
func batch(t *testing.T, c goredis.UniversalClient, batched bool) goredis.UniversalClient {
	if batched {
		co := redisstore.Coalesce(c, redisstore.CoalesceOptions{})
		t.Cleanup(co.Close)
	}
	return c
}

func TestSessions(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Sessions(t, func(t *testing.T) storetest.SessionsEnv {
			tg := open(t)
			return storetest.SessionsEnv{
				Open: func(o store.SessionOptions) storetest.SessionStore {
					return redisstore.New(tg.client(), redisstore.Options{Prefix: tg.prefix, TTL: o.TTL, Pending: o.Pending, PendingCreate: o.PendingCreate})
				},
				Bus:     func() store.Bus { return redisstore.NewBus(tg.client()) },
				Advance: tg.advance,
			}
		})
	})
}

func TestTimers(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Timers(t, func(t *testing.T) func() store.Timers {
			tg := open(t)
			return func() store.Timers {
				return redisstore.New(tg.client(), redisstore.Options{Prefix: tg.prefix}).Timers()
			}
		})
	})
}

func TestPrograms(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Programs(t, func(t *testing.T) func() store.Programs {
			tg := open(t)
			return func() store.Programs {
				return redisstore.New(tg.client(), redisstore.Options{Prefix: tg.prefix, TTL: time.Hour}).Programs()
			}
		})
	})
}

func TestBus(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Bus(t, func(t *testing.T) func() store.Bus {
			tg := open(t)
			return func() store.Bus { return redisstore.NewBus(tg.client()) }
		})
	})
}

func TestSecrets(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Secrets(t, func(t *testing.T) func() store.Secrets {
			tg := open(t)
			return func() store.Secrets { return redisstore.NewSecrets(tg.client(), tg.prefix) }
		})
	})
}

func TestLeases(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		storetest.Leases(t, func(t *testing.T) storetest.LeasesEnv {
			tg := open(t)
			return storetest.LeasesEnv{
				Open:    func() store.Leases { return redisstore.NewLeases(tg.client(), tg.prefix) },
				Advance: tg.advance,
			}
		})
	})
}
