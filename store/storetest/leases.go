package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// LeasesEnv is what the leases' suite runs on.
type LeasesEnv struct {
	// Open opens a new instance on the same data, as another process would.
	Open func() store.Leases
	// Advance, when set, makes d pass on the engine's clock; when nil the
	// suite waits for real time to pass.
	Advance func(d time.Duration)
}

// Leases runs the conformance suite of store.Leases: of many processes
// asking at once, exactly one takes a lease; nobody takes it again, the
// holder included, until its ttl passed; then exactly one does. A holder
// that dies (never asks again) holds it at most its ttl.
func Leases(t *testing.T, open func(t *testing.T) LeasesEnv) {
	t.Run("OneHolderAcrossProcesses", func(t *testing.T) {
		env := open(t)
		procs := []store.Leases{env.Open(), env.Open()}
		if n := takers(t, procs, "purge", time.Hour); n != 1 {
			t.Fatalf("%d processes took a free lease at once, want 1", n)
		}
		if n := takers(t, procs, "purge", time.Hour); n != 0 {
			t.Fatalf("%d processes took a held lease, want 0", n)
		}
		if n := takers(t, procs, "other", time.Hour); n != 1 {
			t.Fatalf("%d processes took another free lease, want 1 (leases are apart by name)", n)
		}
		if ok, err := procs[0].Take(context.Background(), "never", 0); !errors.Is(err, store.ErrLeaseTTL) || ok {
			t.Fatalf("take a lease for no time = %v %v, want ErrLeaseTTL", ok, err)
		}
	})
	t.Run("EndsAfterItsTTL", func(t *testing.T) {
		ctx := context.Background()
		env := open(t)
		procs := []store.Leases{env.Open(), env.Open()}
		ttl := time.Minute
		if env.Advance == nil {
			ttl = 300 * time.Millisecond
		}
		// procs[0] takes it and dies: it never asks again.
		if ok, err := procs[0].Take(ctx, "purge", ttl); err != nil || !ok {
			t.Fatalf("take a free lease = %v %v, want true", ok, err)
		}
		if env.Advance != nil {
			env.Advance(ttl / 2)
			if ok, err := procs[1].Take(ctx, "purge", ttl); err != nil || ok {
				t.Fatalf("take a lease half its ttl after it was taken = %v %v, want false", ok, err)
			}
			env.Advance(ttl / 2)
			if n := takers(t, procs[1:], "purge", ttl); n != 1 {
				t.Fatalf("%d processes took a lease its ttl after it was taken, want 1", n)
			}
			return
		}
		if ok, err := procs[1].Take(ctx, "purge", ttl); err != nil || ok {
			t.Fatalf("take a held lease = %v %v, want false", ok, err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			ok, err := procs[1].Take(ctx, "purge", ttl)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a lease of %v its holder never asked for again was still held after 20s", ttl)
			}
			time.Sleep(ttl / 10)
		}
		if ok, err := procs[0].Take(ctx, "purge", ttl); err != nil || ok {
			t.Fatalf("take a lease just taken again = %v %v, want false", ok, err)
		}
	})
}

// takers has each of procs ask for lease name four times at once and
// returns how many got it.
func takers(t *testing.T, procs []store.Leases, name string, ttl time.Duration) int {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		took int
	)
	for i := range 4 * len(procs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := procs[i%len(procs)].Take(context.Background(), name, ttl)
			if err != nil {
				t.Error(err)
				return
			}
			if ok {
				mu.Lock()
				took++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return took
}
