package redis_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// pipeCounter records the size of every pipeline, and how many commands
// went alone, that a client sends (a hook added after the Coalescer).
type pipeCounter struct {
	mu     sync.Mutex
	sizes  []int
	single int
}

func (p *pipeCounter) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (p *pipeCounter) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if n := cmd.Name(); n != "hello" && n != "client" {
			p.mu.Lock()
			p.single++
			p.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}
func (p *pipeCounter) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if n := cmds[0].Name(); n == "hello" || n == "client" {
			return next(ctx, cmds) // a new connection's handshake
		}
		p.mu.Lock()
		p.sizes = append(p.sizes, len(cmds))
		p.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (p *pipeCounter) get() ([]int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.sizes), p.single
}

// coalesceEnv is a fresh client (of one node, or of the cluster) with a
// Coalescer and a pipeCounter behind it, and the key prefix to use.
type coalesceEnv struct {
	rdb    goredis.UniversalClient
	co     *redisstore.Coalescer
	count  *pipeCounter
	prefix string
	// plain is another client of the same Redis, without a Coalescer.
	plain goredis.UniversalClient
	// srv is the one node's Redis (nil on the cluster).
	srv *redistest.Server
}

// onBoth runs f on one node and on the cluster (skipped without one).
func onBoth(t *testing.T, opts redisstore.CoalesceOptions, f func(t *testing.T, e coalesceEnv)) {
	t.Run("node", func(t *testing.T) {
		redistest.SkipShort(t, "needs Redis")
		srv := redistest.New(t)
		e := newCoalesceEnv(t, goredis.NewClient(srv.Client.Options()), srv.Prefix, opts)
		e.plain, e.srv = srv.Client, srv
		f(t, e)
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.NewCluster(t)
		e := newCoalesceEnv(t, goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs}), cl.Prefix, opts)
		e.plain = cl.Client
		f(t, e)
	})
}

func newCoalesceEnv(t *testing.T, c goredis.UniversalClient, prefix string, opts redisstore.CoalesceOptions) coalesceEnv {
	co := redisstore.Coalesce(c, opts)
	count := &pipeCounter{}
	c.AddHook(count)
	t.Cleanup(func() { co.Close(); c.Close() })
	return coalesceEnv{rdb: c, co: co, count: count, prefix: prefix}
}

// waitQueued waits until n commands wait in the Coalescer (an event, not
// a time: each caller queues its command before it blocks).
func waitQueued(t *testing.T, co *redisstore.Coalescer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // guards a hang only
	for redisstore.CoalescerQueued(co) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d commands queued, want %d", redisstore.CoalescerQueued(co), n)
		}
		runtime.Gosched()
	}
}

// A batch waits for MaxBatch commands (the window is long): the eight
// goroutines' commands go in one pipeline, and each gets its own reply.
func TestCoalesceSharesOnePipeline(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 8}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		got := make([]int64, 8)
		errs := make([]error, 8)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				got[i], errs[i] = e.rdb.IncrBy(ctx, fmt.Sprintf("%sk%d", e.prefix, i), int64(i+1)).Result()
			})
		}
		wg.Wait()
		for i := range 8 {
			if errs[i] != nil || got[i] != int64(i+1) {
				t.Errorf("command %d: %d, %v; want %d", i, got[i], errs[i], i+1)
			}
		}
		sizes, single := e.count.get()
		if !slices.Equal(sizes, []int{8}) || single != 0 {
			t.Errorf("pipelines %v and %d commands alone, want one pipeline of 8", sizes, single)
		}
		if b, c := e.co.Stats().Batches.Load(), e.co.Stats().Commands.Load(); b != 1 || c != 8 {
			t.Errorf("stats: %d batches of %d commands, want 1 of 8", b, c)
		}
	})
}

// Commands of one batch fail or succeed each on its own: a wrong type, a
// missing key, a script's error and a good read side by side.
func TestCoalescePerCommandErrors(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 4}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		str := e.prefix + "{x}str"
		if err := e.plain.Set(ctx, str, "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var hgetErr, missErr, scriptErr, getErr error
		var getVal string
		wg.Go(func() { hgetErr = e.rdb.HGet(ctx, str, "f").Err() })
		wg.Go(func() { missErr = e.rdb.Get(ctx, e.prefix+"{x}missing").Err() })
		wg.Go(func() {
			scriptErr = e.rdb.Eval(ctx, "return redis.error_reply('boom')", []string{e.prefix + "{x}s"}).Err()
		})
		wg.Go(func() { getVal, getErr = e.rdb.Get(ctx, str).Result() })
		wg.Wait()
		if hgetErr == nil || !goredis.HasErrorPrefix(hgetErr, "WRONGTYPE") {
			t.Errorf("HGET of a string: %v, want WRONGTYPE", hgetErr)
		}
		if !errors.Is(missErr, goredis.Nil) {
			t.Errorf("GET of a missing key: %v, want redis.Nil", missErr)
		}
		if scriptErr == nil || !strings.HasSuffix(scriptErr.Error(), "boom") {
			t.Errorf("script: %v, want boom", scriptErr)
		}
		if getErr != nil || getVal != "v" {
			t.Errorf("GET: %q, %v; want v", getVal, getErr)
		}
		if sizes, _ := e.count.get(); !slices.Equal(sizes, []int{4}) {
			t.Errorf("pipelines %v, want one of 4", sizes)
		}
	})
}

// A caller whose context ends while its command waits gets the context's
// error at once, and the command is never sent.
func TestCoalesceCancelledBeforeSent(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 100}, func(t *testing.T, e coalesceEnv) {
		ctx, cancel := context.WithCancel(context.Background())
		key := e.prefix + "cancelled"
		done := make(chan error, 1)
		go func() { done <- e.rdb.Incr(ctx, key).Err() }()
		waitQueued(t, e.co, 1)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled INCR: %v, want context.Canceled", err)
		}
		e.co.Close() // sends what is left: nothing
		if n, err := e.plain.Exists(context.Background(), key).Result(); err != nil || n != 0 {
			t.Errorf("the cancelled INCR ran: EXISTS %d, %v", n, err)
		}
		if sizes, _ := e.count.get(); len(sizes) != 0 {
			t.Errorf("pipelines %v, want none", sizes)
		}
		if c := e.co.Stats().Cancelled.Load(); c != 1 {
			t.Errorf("%d cancelled, want 1", c)
		}
	})
}

// No pipeline carries more than MaxBatch commands, and what still waits
// when the Coalescer closes is sent then.
func TestCoalesceBoundedBatch(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 4}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		results := make(chan error, 10)
		for i := range 10 {
			go func() { results <- e.rdb.Set(ctx, fmt.Sprintf("%sb%d", e.prefix, i), i, time.Minute).Err() }()
		}
		// Two full batches go at once; the last two wait for the window.
		for range 8 {
			if err := <-results; err != nil {
				t.Error(err)
			}
		}
		waitQueued(t, e.co, 2)
		e.co.Close()
		for range 2 {
			if err := <-results; err != nil {
				t.Error(err)
			}
		}
		if sizes, single := e.count.get(); !slices.Equal(sizes, []int{4, 4, 2}) || single != 0 {
			t.Errorf("pipelines %v and %d commands alone, want 4, 4, then 2 at Close", sizes, single)
		}
	})
}

// A command that finds MaxQueued commands waiting goes to Redis alone, at
// once, instead of waiting.
func TestCoalesceBoundedQueue(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxQueued: 2}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		results := make(chan error, 2)
		for i := range 2 {
			go func() { results <- e.rdb.Set(ctx, fmt.Sprintf("%sq%d", e.prefix, i), i, time.Minute).Err() }()
		}
		waitQueued(t, e.co, 2)
		if err := e.rdb.Set(ctx, e.prefix+"over", 1, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if sizes, single := e.count.get(); len(sizes) != 0 || single != 1 {
			t.Errorf("pipelines %v and %d commands alone, want the third command alone", sizes, single)
		}
		if n := e.co.Stats().Overflow.Load(); n != 1 {
			t.Errorf("overflow %d, want 1", n)
		}
		e.co.Close()
		for range 2 {
			if err := <-results; err != nil {
				t.Error(err)
			}
		}
		if sizes, _ := e.count.get(); !slices.Equal(sizes, []int{2}) {
			t.Errorf("pipelines %v, want the two queued in one at Close", sizes)
		}
	})
}

// Each goroutine's commands to its own key, and to a key all share, keep
// the goroutine's order (each waits for its reply before the next).
func TestCoalesceOrderPerKey(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		const goroutines, each = 16, 40
		shared := e.prefix + "{o}shared"
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				own := fmt.Sprintf("%s{o%d}own", e.prefix, g)
				for i := range each {
					if err := e.rdb.RPush(ctx, own, i).Err(); err != nil {
						t.Error(err)
						return
					}
					if err := e.rdb.RPush(ctx, shared, fmt.Sprintf("%d:%d", g, i)).Err(); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		for g := range goroutines {
			own, err := e.rdb.LRange(ctx, fmt.Sprintf("%s{o%d}own", e.prefix, g), 0, -1).Result()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range own {
				if v != strconv.Itoa(i) {
					t.Fatalf("goroutine %d's list: %v", g, own)
				}
			}
		}
		all, err := e.rdb.LRange(ctx, shared, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		next := make([]int, goroutines)
		for _, v := range all {
			var g, i int
			fmt.Sscanf(v, "%d:%d", &g, &i)
			if i != next[g] {
				t.Fatalf("shared list: goroutine %d's %d after %d", g, i, next[g]-1)
			}
			next[g]++
		}
		if len(all) != goroutines*each {
			t.Errorf("shared list holds %d, want %d", len(all), goroutines*each)
		}
		if c := e.co.Stats().Commands.Load(); c < goroutines*each*2 {
			t.Errorf("%d commands batched, want all %d", c, goroutines*each*2)
		}
	})
}

// A pipeline a store builds (a turn with its reads) rides in the batch as
// one piece: the four pipelines of two commands go in one pipeline of 8,
// each GET right after its own INCR (it sees its write), and Exec answers
// as go-redis's does.
func TestCoalescePipelinesShareOnePipeline(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 8}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		shared := e.prefix + "{p}shared"
		incrs := make([]int64, 4)
		gets := make([]string, 4)
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				pipe := e.rdb.Pipeline()
				incr := pipe.IncrBy(ctx, shared, int64(i+1))
				get := pipe.Get(ctx, shared)
				_, errs[i] = pipe.Exec(ctx)
				incrs[i], gets[i] = incr.Val(), get.Val()
			})
		}
		wg.Wait()
		for i := range 4 {
			if errs[i] != nil || gets[i] != strconv.FormatInt(incrs[i], 10) {
				t.Errorf("pipeline %d: INCRBY %d then GET %q, %v; want the GET to see the INCRBY", i, incrs[i], gets[i], errs[i])
			}
		}
		if sizes, single := e.count.get(); !slices.Equal(sizes, []int{8}) || single != 0 {
			t.Errorf("pipelines %v and %d commands alone, want one pipeline of 8", sizes, single)
		}
		if b, c := e.co.Stats().Batches.Load(), e.co.Stats().Commands.Load(); b != 1 || c != 8 {
			t.Errorf("stats: %d batches of %d commands, want 1 of 8", b, c)
		}
	})
}

// A pipeline that ends with a PUBLISH (a lead's CRM writes and their
// notices) rides in the batch as well, on the cluster as on one node: the
// four pipelines of a SET and a PUBLISH, each SET in a slot of its own, go
// in one pipeline of 8, and a subscriber hears every message. (On a
// cluster this pipeline went to Redis on its own, a request to each
// master it reached.)
func TestCoalescePipelineWithPublish(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 8}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		channel := e.prefix + "notices"
		sub := e.plain.Subscribe(ctx, channel)
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		errs := make([]error, 4)
		var wg sync.WaitGroup
		for i := range 4 {
			wg.Go(func() {
				pipe := e.rdb.Pipeline()
				pipe.Set(ctx, fmt.Sprintf("%s{w%d}k", e.prefix, i), i, 0)
				pipe.Publish(ctx, channel, strconv.Itoa(i))
				_, errs[i] = pipe.Exec(ctx)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("pipeline %d: %v", i, err)
			}
			if v, err := e.plain.Get(ctx, fmt.Sprintf("%s{w%d}k", e.prefix, i)).Result(); err != nil || v != strconv.Itoa(i) {
				t.Errorf("key of pipeline %d: %q, %v; want %d", i, v, err, i)
			}
		}
		if sizes, single := e.count.get(); !slices.Equal(sizes, []int{8}) || single != 0 {
			t.Errorf("pipelines %v and %d commands alone, want one pipeline of 8", sizes, single)
		}
		heard := map[string]bool{}
		for len(heard) < 4 {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second) // guards a hang only
			m, err := sub.ReceiveMessage(rctx)
			cancel()
			if err != nil {
				t.Fatalf("heard %v, then %v; want the four messages", heard, err)
			}
			heard[m.Payload] = true
		}
	})
}

// Under load, with other callers' commands to the same key all around,
// no command comes between a pipeline's two: each GET answers its own
// INCR's value.
func TestCoalescePipelineStaysTogether(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{}, func(t *testing.T, e coalesceEnv) {
		if e.srv != nil {
			e.srv.NeedsReal(t, "a connection's commands run before another's are read")
		}
		ctx := context.Background()
		shared := e.prefix + "{t}shared"
		var wg sync.WaitGroup
		for g := range 16 {
			wg.Go(func() {
				for range 40 {
					if g%2 == 0 {
						if err := e.rdb.Incr(ctx, shared).Err(); err != nil {
							t.Error(err)
							return
						}
						continue
					}
					pipe := e.rdb.Pipeline()
					incr := pipe.Incr(ctx, shared)
					get := pipe.Get(ctx, shared)
					if _, err := pipe.Exec(ctx); err != nil {
						t.Error(err)
						return
					}
					if v := strconv.FormatInt(incr.Val(), 10); get.Val() != v {
						t.Errorf("INCR %s then GET %s: another command between them", v, get.Val())
						return
					}
				}
			})
		}
		wg.Wait()
		if c := e.co.Stats().Commands.Load(); c != 8*40+8*40*2 {
			t.Errorf("%d commands batched, want all %d", c, 8*40+8*40*2)
		}
	})
}

// A pipeline whose caller gives up while it waits is never sent, and each
// of its commands answers the context's error (a pipeline's caller reads
// its commands' errors); one of more than MaxBatch commands, and a
// transaction (MULTI/EXEC), go on their own at once.
func TestCoalescePipelineBounds(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 3}, func(t *testing.T, e coalesceEnv) {
		key := e.prefix + "{b}k"
		ctx, cancel := context.WithCancel(context.Background())
		pipe := e.rdb.Pipeline()
		incr := pipe.Incr(ctx, key)
		get := pipe.Get(ctx, key)
		done := make(chan error, 1)
		go func() { _, err := pipe.Exec(ctx); done <- err }()
		waitQueued(t, e.co, 2)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled pipeline: %v, want context.Canceled", err)
		}
		if !errors.Is(incr.Err(), context.Canceled) || !errors.Is(get.Err(), context.Canceled) {
			t.Errorf("cancelled pipeline's commands: %v, %v; want context.Canceled", incr.Err(), get.Err())
		}
		if c := e.co.Stats().Cancelled.Load(); c != 2 {
			t.Errorf("%d cancelled, want 2", c)
		}
		bg := context.Background()
		big := e.rdb.Pipeline()
		for range 4 {
			big.Incr(bg, key)
		}
		if _, err := big.Exec(bg); err != nil {
			t.Fatal(err)
		}
		tx := e.rdb.TxPipeline()
		tx.Incr(bg, key)
		tx.Incr(bg, key)
		if _, err := tx.Exec(bg); err != nil {
			t.Fatal(err)
		}
		if n, err := e.plain.Get(bg, key).Int(); err != nil || n != 6 {
			t.Errorf("%s = %d, %v; want 6 (the cancelled INCR never ran)", key, n, err)
		}
		if b := e.co.Stats().Batches.Load(); b != 0 {
			t.Errorf("%d batches, want none", b)
		}
	})
}

// callerSends records whether the pipelines a client sends (a hook added
// after the Coalescer) go out on the goroutine of a function named fn.
type callerSends struct {
	fn          string
	mu          sync.Mutex
	mine, other int
}

func (c *callerSends) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (c *callerSends) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return next
}
func (c *callerSends) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if n := cmds[0].Name(); n == "hello" || n == "client" {
			return next(ctx, cmds)
		}
		pcs := make([]uintptr, 64)
		frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
		mine := false
		for more := true; more; {
			var f runtime.Frame
			f, more = frames.Next()
			mine = mine || strings.Contains(f.Function, c.fn)
		}
		c.mu.Lock()
		if mine {
			c.mine++
		} else {
			c.other++
		}
		c.mu.Unlock()
		return next(ctx, cmds)
	}
}

// With no window and nothing waiting, a caller sends its command (or its
// pipeline) itself, at once, as a batch of its own: no hand-off to the
// Coalescer's goroutines and back when the load is light.
func TestCoalesceLoneCallerSendsItself(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{}, func(t *testing.T, e coalesceEnv) {
		sends := &callerSends{fn: "TestCoalesceLoneCallerSendsItself"}
		e.rdb.AddHook(sends)
		ctx := context.Background()
		key := e.prefix + "{l}k"
		if err := e.rdb.Incr(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		pipe := e.rdb.Pipeline()
		pipe.Incr(ctx, key)
		get := pipe.Get(ctx, key)
		if _, err := pipe.Exec(ctx); err != nil || get.Val() != "2" {
			t.Fatalf("pipeline: GET %q, %v; want 2", get.Val(), err)
		}
		if sends.mine != 2 || sends.other != 0 {
			t.Errorf("%d batches sent by their caller, %d by another goroutine; want both by their caller", sends.mine, sends.other)
		}
		if b, c := e.co.Stats().Batches.Load(), e.co.Stats().Commands.Load(); b != 2 || c != 3 {
			t.Errorf("stats: %d batches of %d commands, want 2 of 3", b, c)
		}
	})
}
