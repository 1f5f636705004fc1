package redis_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// trips records a client's round trips (store.Observer).
type trips struct {
	mu  sync.Mutex
	ops []string // op, or op+"!" when it failed
}

func (r *trips) RoundTrip(op string, _ time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		op += "!"
	}
	r.ops = append(r.ops, op)
}

func (r *trips) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.ops
	r.ops = nil
	return out
}

// TestObserveCountsRoundTripsAndFailures: a command and a pipeline are one
// round trip each; a missing key and a script sent again after NOSCRIPT
// are not failures; a Redis that is gone is.
func TestObserveCountsRoundTripsAndFailures(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	opt, err := goredis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	rec := &trips{}
	redisstore.Observe(c, rec)
	key := rds.Prefix + "observe"
	script := goredis.NewScript(`return redis.call('GET', KEYS[1]) or 'none' -- ` + rds.Prefix)
	steps := []struct {
		name string
		do   func() error
		want []string
	}{
		{"set", func() error { return c.Set(ctx, key, "1", time.Minute).Err() }, []string{"command"}},
		{"missing key", func() error {
			if err := c.Get(ctx, key+":nope").Err(); err != goredis.Nil {
				return err
			}
			return nil
		}, []string{"command"}},
		{"pipeline", func() error {
			_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
				p.Incr(ctx, key+":n")
				p.Expire(ctx, key+":n", time.Minute)
				return nil
			})
			return err
		}, []string{"pipeline"}},
		// A script Redis has not cached: EVALSHA answers NOSCRIPT, then
		// go-redis sends EVAL.
		{"new script", func() error { return script.Run(ctx, c, []string{key}).Err() }, []string{"command", "command"}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := rec.take(); !equal(got, s.want) {
			t.Errorf("%s: round trips %v, want %v", s.name, got, s.want)
		}
	}

	// A Redis that is gone: the port of a listener just closed.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	gone := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer gone.Close()
	redisstore.Observe(gone, rec)
	if err := gone.Set(ctx, key, "1", time.Minute).Err(); err == nil {
		t.Fatal("a SET to a closed port succeeded")
	}
	if got := rec.take(); !equal(got, []string{"command!"}) {
		t.Errorf("gone: round trips %v, want [command!]", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
