package conversation_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	storeapi "github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/blobdir"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// fleet counts what the background loops of services on one Redis do.
type fleet struct {
	purges atomic.Int64 // PurgeGone calls in every process
	takes  atomic.Int64 // purge leases taken in every process
}

// purger is one process of a fleet: its service, running, and its counts.
type purger struct {
	svc   *conversation.Service
	fleet *fleet
	ticks atomic.Int64 // its timer loop's ticks (FireTimers' claims)
	asks  atomic.Int64 // its asks for the purge lease
	// firstAt is ticks when it first purged (-1: not yet).
	firstAt atomic.Int64
}

// purgeCounter counts PurgeGone's calls by their first read, the teams.
type purgeCounter struct {
	storeapi.InboxEngine
	p *purger
}

func (c purgeCounter) ListedTeams(ctx context.Context) ([]string, error) {
	c.p.firstAt.CompareAndSwap(-1, c.p.ticks.Load())
	c.p.fleet.purges.Add(1)
	return c.InboxEngine.ListedTeams(ctx)
}

type tickCounter struct {
	storeapi.Timers
	p *purger
}

func (c tickCounter) Claim(ctx context.Context, now time.Time, limit int) ([]storeapi.Due, error) {
	defer c.p.ticks.Add(1)
	return c.Timers.Claim(ctx, now, limit)
}

type leaseCounter struct {
	storeapi.Leases
	p *purger
}

func (c leaseCounter) Take(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := c.Leases.Take(ctx, name, ttl)
	if ok {
		c.p.fleet.takes.Add(1)
	}
	c.p.asks.Add(1)
	return ok, err
}

// runPurger starts a process of fl on mr whose sweep runs at every tick of
// its timer loop, with its Config changed by mod; it stops when t ends.
func runPurger(t *testing.T, mr *miniredis.Miniredis, fl *fleet, mod func(*conversation.Config)) *purger {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	p := &purger{fleet: fl}
	p.firstAt.Store(-1)
	st := redisstore.New(rdb, redisstore.Options{Prefix: "t:", Pending: conversation.LeavesWork})
	inbox := handoff.NewStore(purgeCounter{redisstore.NewInbox(rdb, "t:"), p}, handoff.Options{Prefix: "t:", Alive: st.Alive, PasswordCost: bcrypt.MinCost})
	cfg := conversation.Config{
		Store: st, Timers: tickCounter{st.Timers(), p}, Inbox: inbox, CRM: crm.New(redisstore.NewCRM(rdb, "t:"), redisstore.NewCRM(rdb, "t:"), crm.Options{}),
		Registry: conversation.NewRegistry(t.TempDir(), st.Programs(), quiet(), time.Now), Publisher: &fakePublisher{}, Logger: quiet(),
		RecoverAfter: 400 * time.Millisecond, // a sweep every tick (200 ms)
		Leases:       leaseCounter{redisstore.NewLeases(rdb, "t:"), p},
	}
	mod(&cfg)
	var err error
	if p.svc, err = conversation.New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.svc.Run(ctx, time.Hour, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return p
}

// TestFirstPurgeAnIntervalAfterStart: a process purges the queues first
// PurgeEvery after it started (here its fifth tick), not at its first
// sweep: a fresh process (a bench's window, a rolling upgrade) does not
// purge at once.
func TestFirstPurgeAnIntervalAfterStart(t *testing.T) {
	fl := &fleet{}
	p := runPurger(t, miniredis.RunT(t), fl, func(c *conversation.Config) { c.PurgeEvery = time.Second })
	waitFor(t, "the first purge", func() bool { return fl.purges.Load() > 0 })
	if at := p.firstAt.Load(); at < 4 {
		t.Fatalf("the first purge came after %d ticks of 200 ms (a sweep each), want 4 (PurgeEvery 1s)", at)
	}

	// The default interval: a minute, so none in the first sweeps.
	fl2 := &fleet{}
	p2 := runPurger(t, miniredis.RunT(t), fl2, func(*conversation.Config) {})
	waitFor(t, "five sweeps", func() bool { return p2.ticks.Load() >= 5 })
	if n, asks := fl2.purges.Load(), p2.asks.Load(); n != 0 || asks != 0 {
		t.Fatalf("%d purges, %d asks for the lease in the first five sweeps, want none (PurgeEvery a minute)", n, asks)
	}
}

// TestOnePurgeAnIntervalInAFleet: two processes on one Redis ask for the
// purge lease at every sweep once their first interval passed; one purge
// an interval is done in all, by the one that takes the lease, and the
// next when the lease ends (the Redis stand-in's clock moved on).
func TestOnePurgeAnIntervalInAFleet(t *testing.T) {
	mr := miniredis.RunT(t)
	fl := &fleet{}
	every := func(c *conversation.Config) { c.PurgeEvery = 400 * time.Millisecond }
	procs := []*purger{runPurger(t, mr, fl, every), runPurger(t, mr, fl, every)}
	const intervals = 4
	for i := int64(1); i <= intervals; i++ {
		waitFor(t, "a purge", func() bool { return fl.purges.Load() >= i })
		// Each process asks twice more while the lease is held.
		a, b := procs[0].asks.Load(), procs[1].asks.Load()
		waitFor(t, "both processes to ask for the lease twice more", func() bool {
			return procs[0].asks.Load() >= a+2 && procs[1].asks.Load() >= b+2
		})
		if n := fl.purges.Load(); n != i {
			t.Fatalf("%d purges in %d intervals of two processes, want %d", n, i, i)
		}
		mr.FastForward(400 * time.Millisecond) // the lease ends
	}
	if n, took := fl.purges.Load(), fl.takes.Load(); n != intervals || took != intervals {
		t.Fatalf("%d purges, %d leases taken, want %d of each", n, took, intervals)
	}
}

// listCounter counts the file sweeps (PurgeFiles) of a fleet by their
// first call, the listing of the files.
type listCounter struct {
	storeapi.Blobs
	lists *atomic.Int64
}

func (c listCounter) List(ctx context.Context, fn func(key string) error) error {
	c.lists.Add(1)
	return c.Blobs.List(ctx, fn)
}

// fileLeases counts the asks for the file sweep's lease, and the ones
// taken.
type fileLeases struct {
	storeapi.Leases
	asks, taken *atomic.Int64
}

func (c fileLeases) Take(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := c.Leases.Take(ctx, name, ttl)
	if name == "purge-files" {
		if ok {
			c.taken.Add(1)
		}
		c.asks.Add(1)
	}
	return ok, err
}

// TestOneFileSweepAtStartInAFleet: two processes sharing a Redis and a
// bucket start at once; the file sweep that Run starts with is done by
// one of them, the one that takes the fleet's lease, not by both (listing
// a large bucket once an hour a fleet, not once an hour a process).
func TestOneFileSweepAtStartInAFleet(t *testing.T) {
	mr := miniredis.RunT(t)
	bucket, err := blobdir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var lists, asks, taken atomic.Int64
	files := func(c *conversation.Config) {
		c.Files = listCounter{bucket, &lists}
		c.Leases = fileLeases{c.Leases, &asks, &taken}
	}
	runPurger(t, mr, &fleet{}, files)
	runPurger(t, mr, &fleet{}, files)
	waitFor(t, "both processes to ask for the file sweep's lease", func() bool { return asks.Load() == 2 })
	if n := taken.Load(); n != 1 {
		t.Fatalf("the file sweep's lease was taken %d times by two processes starting at once, want once", n)
	}
	waitFor(t, "the sweep of the process holding the lease", func() bool { return lists.Load() == 1 })
}
