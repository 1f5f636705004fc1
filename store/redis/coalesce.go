package redis

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/warm"
)

// A Coalescer batches the commands that many goroutines send at about the
// same time into one pipeline write (issue 13): concurrent turns from many
// visitors, each one EVALSHA of the turn script, reach Redis as one
// pipeline, so the server and Redis make one write and one read for the
// batch instead of one of each per turn. Each command keeps its own reply
// and its own error; a caller still waits for its own command's answer.
//
// It is a go-redis hook (Coalesce installs it), so every command the
// stores send through the client goes through it without a change to
// their code. Only commands that are safe on any connection are batched
// (coalescable: data commands and scripts, one slot each on a cluster);
// blocking commands, pub/sub, WATCH and MULTI, connection state and
// commands a cluster fans out to every node go on as before. Pipelines a
// store builds itself are sent as they are.
//
// A batch is bounded in size (CoalesceOptions.MaxBatch) and in time
// (Window); a command that finds MaxQueued commands waiting is sent on its
// own at once rather than wait. A caller whose context ends while its
// command is still queued gets the context's error and the command is
// never sent; once its batch is written it waits for the reply, as a
// go-redis command does (the client's read timeout bounds it). A
// goroutine's commands keep their order, since each waits for its reply
// before the next; commands of different goroutines were never ordered.
// On a Redis Cluster go-redis splits each batch per master and sends the
// parts at once.
type Coalescer struct {
	rdb  goredis.UniversalClient
	opts CoalesceOptions
	// multiKey: may commands of several keys be batched (one node only;
	// on a cluster they may span slots).
	multiKey bool

	mu     sync.Mutex
	queue  []*coalesced
	first  time.Time // when the oldest queued command came
	closed bool

	wake    chan struct{} // a command was queued (capacity 1)
	full    chan struct{} // the queue reached MaxBatch (capacity 1)
	flights chan struct{} // one token per batch being sent
	stop    chan struct{}
	done    chan struct{}
	running sync.WaitGroup // batches being sent

	stats CoalesceStats
}

// CoalesceOptions configure a Coalescer. The zero value batches what
// arrives while earlier batches are on the wire, without waiting.
type CoalesceOptions struct {
	// Window is how long the first command of a batch waits for others
	// before the batch is sent (unless MaxBatch come first). 0: no wait,
	// a batch is sent as soon as a flight is free, and batches hold what
	// arrived while the earlier ones were on the wire.
	Window time.Duration
	// MaxBatch is the most commands one pipeline carries; default 128.
	MaxBatch int
	// MaxInFlight is how many batches may be on the wire at once (each on
	// its own connection; on a cluster, each split over the masters);
	// default 2.
	MaxInFlight int
	// MaxQueued is how many commands may wait; a command beyond is sent
	// on its own at once. Default 4096.
	MaxQueued int
}

// DefaultCoalesceWindow is serve's --redis-batch-window: batching on, no
// wait. Measured (docs/benchmarks.md): under a closed loop of 50 visitors
// it saves CPU per turn in serve and in Redis; a window adds itself to
// every round trip of a turn when the load is light (paced visitors:
// p50 0.6-0.8 ms with 0 or off, 1.3 ms with 200 us, a handoff's 1.2-1.6
// ms became 4-5.6 ms).
const DefaultCoalesceWindow time.Duration = 0

// CoalesceStats count what a Coalescer did.
type CoalesceStats struct {
	// Batches is how many pipelines it sent; Commands how many commands
	// they carried.
	Batches, Commands atomic.Int64
	// Cancelled is how many queued commands were dropped because their
	// caller's context ended first; Overflow how many found the queue full
	// and were sent on their own.
	Cancelled, Overflow atomic.Int64
}

type coalesced struct {
	cmd   goredis.Cmder
	state atomic.Int32 // queued, taken or cancelled
	done  chan struct{}
}

const (
	queued int32 = iota
	taken
	cancelled
)

// Coalesce installs a Coalescer on rdb and returns it. Install it before
// other hooks (Observe): hooks added earlier run first, so the ones added
// after see each batch once, as a pipeline. Close stops it; commands then
// go to Redis one by one again.
func Coalesce(rdb goredis.UniversalClient, opts CoalesceOptions) *Coalescer {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 128
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 2
	}
	if opts.MaxQueued <= 0 {
		opts.MaxQueued = 4096
	}
	if opts.Window < 0 {
		opts.Window = 0
	}
	_, cluster := rdb.(*goredis.ClusterClient)
	c := &Coalescer{
		rdb: rdb, opts: opts, multiKey: !cluster,
		wake: make(chan struct{}, 1), full: make(chan struct{}, 1),
		flights: make(chan struct{}, opts.MaxInFlight),
		stop:    make(chan struct{}), done: make(chan struct{}),
	}
	go c.run()
	rdb.AddHook(coalesceHook{c})
	return c
}

// Stats returns the Coalescer's counters.
func (c *Coalescer) Stats() *CoalesceStats { return &c.stats }

// Close sends what is queued, waits for every batch's reply, and lets
// later commands go to Redis one by one.
func (c *Coalescer) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		<-c.done
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.stop)
	<-c.done
}

// coalescable are the commands a batch may carry: each touches one key
// (or, for scripts, keys of one slot), blocks nothing and needs no state
// of its connection. multi are those that may name keys of several slots:
// batched on one node only.
var (
	coalescable = setOf("evalsha", "eval", "evalsha_ro", "eval_ro",
		"get", "set", "setnx", "incr", "incrby", "expire", "pexpire", "persist", "ttl", "pttl", "type",
		"hget", "hmget", "hgetall", "hset", "hsetnx", "hdel", "hincrby", "hexists", "hlen",
		"sadd", "srem", "smembers", "sismember", "scard",
		"zadd", "zrem", "zrange", "zrangebyscore", "zrevrange", "zrevrangebyscore", "zrank",
		"zscore", "zcard", "zcount", "zremrangebyrank", "zremrangebyscore",
		"xadd", "xrange", "xrevrange", "xlen", "xdel", "xack",
		"lpush", "rpush", "lrange", "llen", "ltrim", "lrem", "spublish")
	multi = setOf("mget", "del", "unlink", "exists", "publish")
)

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (c *Coalescer) batchable(cmd goredis.Cmder) bool {
	n := cmd.Name()
	return coalescable[n] || c.multiKey && multi[n]
}

// do queues cmd and waits for its reply; it reports false when cmd must
// be sent on its own (the queue is full or the Coalescer closed).
func (c *Coalescer) do(ctx context.Context, cmd goredis.Cmder) (bool, error) {
	if ctx.Err() != nil {
		return true, ctx.Err()
	}
	it := &coalesced{cmd: cmd, done: make(chan struct{})}
	c.mu.Lock()
	if c.closed || len(c.queue) >= c.opts.MaxQueued {
		if !c.closed {
			c.stats.Overflow.Add(1)
		}
		c.mu.Unlock()
		return false, nil
	}
	if len(c.queue) == 0 {
		c.first = time.Now()
	}
	c.queue = append(c.queue, it)
	n := len(c.queue)
	c.mu.Unlock()
	signal(c.wake)
	if n >= c.opts.MaxBatch {
		signal(c.full)
	}
	select {
	case <-it.done:
		return true, cmd.Err()
	case <-ctx.Done():
		if it.state.CompareAndSwap(queued, cancelled) {
			c.stats.Cancelled.Add(1)
			return true, ctx.Err()
		}
		// Already written: its reply is on the way.
		<-it.done
		return true, cmd.Err()
	}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run sends batches until Close, then what is left.
func (c *Coalescer) run() {
	defer close(c.done)
	var timer *time.Timer
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			c.drain()
			return
		}
		c.mu.Lock()
		empty := len(c.queue) == 0
		c.mu.Unlock()
		if empty {
			continue // a stale wake: its commands left in an earlier batch
		}
		if c.opts.Window > 0 {
			// Wait out the window, unless a batch is full first. A
			// signal of full may be stale (its batch already left), so
			// the queue is counted again after each.
			for {
				c.mu.Lock()
				wait := c.opts.Window - time.Since(c.first)
				n := len(c.queue)
				c.mu.Unlock()
				if wait <= 0 || n == 0 || n >= c.opts.MaxBatch {
					break
				}
				if timer == nil {
					timer = time.NewTimer(wait)
				} else {
					timer.Reset(wait)
				}
				expired := false
				select {
				case <-timer.C:
					expired = true
				case <-c.full:
					timer.Stop()
				case <-c.stop:
					timer.Stop()
					c.drain()
					return
				}
				if expired {
					break
				}
			}
		}
		// A free flight; meanwhile more commands join the queue.
		select {
		case c.flights <- struct{}{}:
		case <-c.stop:
			c.drain()
			return
		}
		batch, more := c.take()
		if len(batch) == 0 {
			<-c.flights
		} else {
			c.running.Add(1)
			senders.Go(func() {
				defer c.running.Done()
				c.send(batch)
				<-c.flights
			})
		}
		if more {
			signal(c.wake)
		}
		select {
		case <-c.full:
		default:
		}
	}
}

// take removes up to MaxBatch commands from the queue, those whose caller
// gave up left out, and reports whether more are waiting.
func (c *Coalescer) take() ([]*coalesced, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := min(len(c.queue), c.opts.MaxBatch)
	batch := make([]*coalesced, 0, n)
	for _, it := range c.queue[:n] {
		if it.state.CompareAndSwap(queued, taken) {
			batch = append(batch, it)
		}
	}
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	return batch, rest > 0
}

// drain sends everything still queued and waits for every batch.
func (c *Coalescer) drain() {
	for {
		batch, more := c.take()
		if len(batch) > 0 {
			c.send(batch)
		}
		if !more {
			break
		}
	}
	c.running.Wait()
}

// senders run the batches: goroutines that keep the stack a pipeline
// grows from one batch to the next (see package warm).
var senders = warm.New(warm.Idle)

// send writes batch as one pipeline and wakes each caller; each command
// holds its own reply or error.
func (c *Coalescer) send(batch []*coalesced) {
	pipe := c.rdb.Pipeline()
	for _, it := range batch {
		_ = pipe.Process(context.Background(), it.cmd)
	}
	_, _ = pipe.Exec(context.Background())
	c.stats.Batches.Add(1)
	c.stats.Commands.Add(int64(len(batch)))
	for _, it := range batch {
		close(it.done)
	}
}

type coalesceHook struct{ c *Coalescer }

func (h coalesceHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h coalesceHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.c.batchable(cmd) {
			if ok, err := h.c.do(ctx, cmd); ok {
				return err
			}
		}
		return next(ctx, cmd)
	}
}

func (h coalesceHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}
