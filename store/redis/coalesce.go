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
// commands a cluster fans out to every node go on as before.
//
// A pipeline a store builds itself (a turn with the reads that must follow
// its write, a handoff's queue step, the CRM's reads) rides in the batch
// too when every one of its commands could, as one piece: its commands
// stay together and in their order in the batch, on one connection, so a
// read after the turn's write sees the write, as in a pipeline of its
// own. (Redis runs what it read from a connection before it reads
// another's, so no other caller's command comes between them either,
// as long as the batch comes in one read; nothing relies on that.) Each keeps
// its own reply and error, and Exec answers the first error as go-redis's
// does. A transaction (MULTI/EXEC) and a pipeline of more than MaxBatch
// commands go on as before.
//
// A batch is bounded in size (CoalesceOptions.MaxBatch) and in time
// (Window); a command (or pipeline) that finds MaxQueued commands waiting
// is sent on its own at once rather than wait. A caller whose context
// ends while its commands are still queued gets the context's error and
// they are never sent; once its batch is written it waits for the
// replies, as a go-redis command does (the client's read timeout bounds
// it). A goroutine's commands keep their order, since each waits for its
// reply before the next; commands of different goroutines were never
// ordered. On a Redis Cluster go-redis splits each batch per master and
// sends the parts at once (a pipeline's commands to one master keep
// their order there, as in a pipeline of their own).
type Coalescer struct {
	rdb  goredis.UniversalClient
	opts CoalesceOptions
	// multiKey: may commands of several keys be batched (one node only;
	// on a cluster they may span slots).
	multiKey bool

	mu     sync.Mutex
	queue  []*coalesced
	queued int       // commands in queue (a pipeline counts all of its)
	first  time.Time // when the oldest queued command came
	closed bool

	wake    chan struct{} // a command was queued (capacity 1)
	full    chan struct{} // the queue reached MaxBatch (capacity 1)
	flights chan struct{} // one token per batch being sent
	stop    chan struct{}
	done    chan struct{}
	running sync.WaitGroup // batches being sent
	pipes   sync.Pool      // of *batchPipe

	stats CoalesceStats
}

// CoalesceOptions configure a Coalescer. The zero value batches what
// arrives while earlier batches are on the wire, without waiting.
type CoalesceOptions struct {
	// Window is how long the first command of a batch waits for others
	// before the batch is sent (unless MaxBatch come first). 0: no wait,
	// a batch is sent as soon as a flight is free, and batches hold what
	// arrived while the earlier ones were on the wire; a caller that
	// finds nothing waiting and a flight free sends its own at once.
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

// coalesced is one caller's command, or its pipeline's commands, which
// go in one batch, together and in order.
//
// Items are reused (items), with their channel: the batch's sender sends
// done one token, which its caller takes, after which nobody else holds
// the item, and it goes back to the pool (release). An item its caller
// gave up on (cancelled) may still be in the queue, and is left to the
// collector.
type coalesced struct {
	cmds  []goredis.Cmder
	one   [1]goredis.Cmder // a lone command's cmds, without an allocation
	state atomic.Int32     // queued, taken or cancelled
	done  chan struct{}    // capacity 1: the sender's token once replied
}

var items = sync.Pool{New: func() any { return &coalesced{done: make(chan struct{}, 1)} }}

// newItem is a pooled item of cmds (nil: a lone command, set it.one[0]).
func newItem(cmds []goredis.Cmder) *coalesced {
	it := items.Get().(*coalesced)
	it.state.Store(queued)
	if cmds == nil {
		cmds = it.one[:]
	}
	it.cmds = cmds
	return it
}

// release puts it back in the pool, once its caller has taken the
// sender's token (or it was never queued).
func release(it *coalesced) {
	it.one[0], it.cmds = nil, nil
	items.Put(it)
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
// (or, for scripts, keys of one slot; PUBLISH none), blocks nothing and
// needs no state of its connection. multi are those that may name keys of
// several slots: batched on one node only.
//
// A classic PUBLISH names a channel, not a key: on a Cluster go-redis
// sends it, alone or in a pipeline, to a master of its choice, and the
// cluster bus carries the message to every node; so it rides in a batch
// there too. (It was in multi: on a Cluster a lead's CRM writes, a
// pipeline that ends with the change's notices, went to Redis on their
// own, a request to each master they reached; in the bench about 40 % of
// the requests a Cluster's masters read, docs/benchmarks.md.)
var (
	coalescable = setOf("evalsha", "eval", "evalsha_ro", "eval_ro",
		"get", "set", "setnx", "incr", "incrby", "expire", "pexpire", "persist", "ttl", "pttl", "type",
		"hget", "hmget", "hgetall", "hset", "hsetnx", "hdel", "hincrby", "hexists", "hlen",
		"sadd", "srem", "smembers", "sismember", "scard",
		"zadd", "zrem", "zrange", "zrangebyscore", "zrevrange", "zrevrangebyscore", "zrank",
		"zscore", "zcard", "zcount", "zremrangebyrank", "zremrangebyscore",
		"xadd", "xrange", "xrevrange", "xlen", "xdel", "xack",
		"lpush", "rpush", "lrange", "llen", "ltrim", "lrem", "spublish", "publish")
	multi = setOf("mget", "del", "unlink", "exists")
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

// batchablePipeline reports whether a pipeline may ride in a batch as one
// piece: it fits in one and every command could be batched alone (so a
// transaction, whose MULTI cannot, never does).
func (c *Coalescer) batchablePipeline(cmds []goredis.Cmder) bool {
	if len(cmds) == 0 || len(cmds) > c.opts.MaxBatch {
		return false
	}
	for _, cmd := range cmds {
		if !c.batchable(cmd) {
			return false
		}
	}
	return true
}

// do queues it (one command or a pipeline's) and waits for the replies;
// it reports false when they must be sent on their own (the queue is
// full or the Coalescer closed), else the first command's error, as a
// pipeline's Exec does. A caller that gives up before its commands are
// sent gets its context's error, set on each command too (a pipeline's
// caller reads them from its commands).
func (c *Coalescer) do(ctx context.Context, it *coalesced) (bool, error) {
	if err := ctx.Err(); err != nil {
		setErr(it.cmds, err)
		return true, err
	}
	c.mu.Lock()
	if c.closed || c.queued >= c.opts.MaxQueued {
		if !c.closed {
			c.stats.Overflow.Add(1)
		}
		c.mu.Unlock()
		return false, nil
	}
	if len(c.queue) == 0 && c.opts.Window == 0 {
		// Nothing waits: with a flight free, the caller sends its
		// commands itself, at once, as the batch they would be alone,
		// without the two goroutine hand-offs of the queue.
		select {
		case c.flights <- struct{}{}:
			c.running.Add(1)
			c.mu.Unlock()
			it.state.Store(taken)
			c.send([]*coalesced{it})
			<-it.done // send's token
			<-c.flights
			c.running.Done()
			return true, firstErr(it.cmds)
		default:
		}
	}
	if len(c.queue) == 0 {
		c.first = time.Now()
	}
	c.queue = append(c.queue, it)
	c.queued += len(it.cmds)
	n := c.queued
	c.mu.Unlock()
	signal(c.wake)
	if n >= c.opts.MaxBatch {
		signal(c.full)
	}
	select {
	case <-it.done:
		return true, firstErr(it.cmds)
	case <-ctx.Done():
		// The item stays the collector's: the queue may still hold it.
		if it.state.CompareAndSwap(queued, cancelled) {
			c.stats.Cancelled.Add(int64(len(it.cmds)))
			setErr(it.cmds, ctx.Err())
			return true, ctx.Err()
		}
		// Already written: the replies are on the way.
		<-it.done
		return true, firstErr(it.cmds)
	}
}

func setErr(cmds []goredis.Cmder, err error) {
	for _, cmd := range cmds {
		cmd.SetErr(err)
	}
}

func firstErr(cmds []goredis.Cmder) error {
	for _, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return err
		}
	}
	return nil
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
				n := c.queued
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

// take removes up to MaxBatch commands from the queue (the first
// caller's, and then those of the next callers that fit whole), those
// whose caller gave up left out, and reports whether more are waiting.
func (c *Coalescer) take() ([]*coalesced, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, size := 0, 0
	for n < len(c.queue) && (n == 0 || size+len(c.queue[n].cmds) <= c.opts.MaxBatch) {
		size += len(c.queue[n].cmds)
		n++
	}
	batch := make([]*coalesced, 0, n)
	for _, it := range c.queue[:n] {
		if it.state.CompareAndSwap(queued, taken) {
			batch = append(batch, it)
		}
	}
	rest := copy(c.queue, c.queue[n:])
	clear(c.queue[rest:])
	c.queue = c.queue[:rest]
	c.queued -= size
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

// sending marks the context of a batch's own pipeline, which the hook
// lets through.
type sending struct{}

var batchContext = context.WithValue(context.Background(), sending{}, true)

// send writes batch as one pipeline and wakes each caller; each command
// holds its own reply or error.
func (c *Coalescer) send(batch []*coalesced) {
	p := c.pipe()
	for _, it := range batch {
		p.cmds = append(p.cmds, it.cmds...)
	}
	n := len(p.cmds)
	// One BatchProcess: the pipeline copies the list once (go-redis's
	// Exec hands its list over and starts the next from nil).
	_ = p.pipe.BatchProcess(batchContext, p.cmds...)
	_, _ = p.pipe.Exec(batchContext)
	clear(p.cmds)
	p.cmds = p.cmds[:0]
	c.pipes.Put(p)
	c.stats.Batches.Add(1)
	c.stats.Commands.Add(int64(n))
	for _, it := range batch {
		it.done <- struct{}{} // capacity 1, taken by its caller only
	}
}

// batchPipe is a go-redis pipeline kept for the Coalescer's batches,
// with the list a batch's commands are gathered in: a new pipeline is
// the pipeline and three functions bound to it, and its list grew by
// doubling as the callers' commands were added, a handful of
// allocations a batch. Exec leaves the pipeline empty, ready for the
// next batch.
type batchPipe struct {
	pipe goredis.Pipeliner
	cmds []goredis.Cmder
}

// pipe is a pipeline of the pool, or a new one.
func (c *Coalescer) pipe() *batchPipe {
	if p, ok := c.pipes.Get().(*batchPipe); ok {
		return p
	}
	return &batchPipe{pipe: c.rdb.Pipeline()}
}

type coalesceHook struct{ c *Coalescer }

func (h coalesceHook) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (h coalesceHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if h.c.batchable(cmd) {
			it := newItem(nil)
			it.one[0] = cmd
			ok, err := h.c.do(ctx, it)
			if it.state.Load() != cancelled {
				release(it)
			}
			if ok {
				return err
			}
		}
		return next(ctx, cmd)
	}
}

func (h coalesceHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if ctx.Value(sending{}) == nil && h.c.batchablePipeline(cmds) {
			it := newItem(cmds)
			ok, err := h.c.do(ctx, it)
			if it.state.Load() != cancelled {
				release(it)
			}
			if ok {
				return err
			}
		}
		return next(ctx, cmds)
	}
}
