package bench_test

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/protocol"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// tripCounter is a go-redis hook that counts the requests a client waits
// for (a command, or a pipeline) by the server function that made them.
type tripCounter struct {
	mu    sync.Mutex
	by    map[string]int
	total int
	// listening is closed once the server's Hub has sent its pattern
	// subscription (what follows it at start: teams' hours dropped and
	// read again, is not a turn's cost).
	listening     chan struct{}
	listeningOnce sync.Once
}

// background loops poll Redis whatever the visitors do; they are not part
// of a turn's cost. (queueLoop re-reads a waiting visitor's place in the
// queue every 2 s, however many turns there are; the place a handoff
// leaves is read in the handoff's own pipeline.)
// The file sweep (fileLoop) runs at start and hourly, whatever the turns.
// The process's one pattern subscription (Hub.Run) is made once at start,
// and checkTokens re-reads the token secret every sweep, whatever the
// turns.
var background = []string{"reloadLoop", "timerLoop", "fileLoop", "(*hub).run", "(*Dispatcher)", "(*visitorConn).queueLoop", "(*Hub).Run", "(*Server).checkTokens"}

func (c *tripCounter) record() {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs)
	frames := runtime.CallersFrames(pcs[:n])
	where := ""
	for {
		f, more := frames.Next()
		if c.listening != nil && strings.Contains(f.Function, "conversation.(*Hub).Run") {
			c.listeningOnce.Do(func() { close(c.listening) })
		}
		for _, b := range background {
			if strings.Contains(f.Function, b) {
				return
			}
		}
		if where == "" && strings.Contains(f.Function, "/playbook/server.") {
			where = f.Function[strings.LastIndex(f.Function, "/")+1:]
		}
		if !more {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.by[where]++
	c.total++
}

func (c *tripCounter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.by)
	c.total = 0
}

func (c *tripCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.record()
		return next(ctx, cmd)
	}
}

func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.record()
		return next(ctx, cmds)
	}
}

// TestRedisRoundTripsPerTurn holds the budget of issue 6: at most 3 Redis
// round trips per turn in all (the turn, the inbox, live chat, the CRM and
// its background work), over ten conversations of the reference mix. It
// counts requests, not time. What a process does once, at start, is not a
// turn's: the counted run follows a warm-up run of the same ten
// conversations (scripts loaded into Redis, the teams' opening hours and
// the CRM's subscriptions read and cached), which starts once the server's
// Hub listens (its Resync drops the cached hours: read again in the
// warm-up). So its starts are returning visitors', as in
// TestRoundTripsByKindOfTurn.
func TestRedisRoundTripsPerTurn(t *testing.T) {
	rds := redistest.New(t)
	counter := &tripCounter{by: map[string]int{}, listening: make(chan struct{})}
	opt, err := redis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	rdb.AddHook(counter)
	t.Cleanup(func() { rdb.Close() })
	url := startServerOn(t, playbooks.BenchQualify, rds, rdb)
	select {
	case <-counter.listening:
	case <-time.After(30 * time.Second): // guards a hang only
		t.Fatal("the server's Hub never subscribed")
	}
	run := func(what string) bench.Result {
		t.Helper()
		res, err := bench.Run(context.Background(), bench.Options{URLs: []string{url}, Visitors: 1, Conversations: 10})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 || res.Turns != 50 {
			t.Fatalf("%s: %d errors, %d turns (want 0 and 50): %v", what, res.Errors, res.Turns, res.ErrorSamples)
		}
		// The CRM's work after a conversation runs in the background:
		// wait until no request has been made for a while.
		last, still := counter.count(), time.Now()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if n := counter.count(); n != last {
				last, still = n, time.Now()
			} else if time.Since(still) > 500*time.Millisecond {
				break
			}
		}
		return res
	}
	run("warm-up")
	counter.reset() // what the server did to start is not a turn's
	res := run("counted")
	counter.mu.Lock()
	defer counter.mu.Unlock()
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(counter.by)) {
		fmt.Fprintf(&b, "\n  %-50s %3d", k, counter.by[k])
	}
	perTurn := float64(counter.total) / float64(res.Turns)
	t.Logf("%d round trips for %d turns: %.2f per turn; by the server function that made them:%s", counter.total, res.Turns, perTurn, b.String())
	if perTurn > 3 {
		t.Errorf("%.2f Redis round trips per turn, want at most 3", perTurn)
	}
}

// TestServeFollowsConversationsWithoutSubscribing (issue 13): serve hears
// its conversations' channels and the inbox channel through one pattern
// subscription per process; an open conversation has no SUBSCRIBE of its
// own, nor has the inbox (its teams watcher), and what
// another process publishes on its channel (an agent's typing dots) still
// reaches the visitor.
func TestServeFollowsConversationsWithoutSubscribing(t *testing.T) {
	url, rds := startServer(t, playbooks.BenchQualify)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, err := client.DialVisitor(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	if err := ws.Start(ctx, protocol.Start{Playbook: "qualify", Visitor: &protocol.Visitor{ID: bench.VisitorID(1)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Until(ctx, func(f protocol.Frame) bool { _, ok := f.(*protocol.Status); return ok }); err != nil {
		t.Fatal(err)
	}
	chans, err := rds.Client.PubSubChannels(ctx, rds.Prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(chans) != 0 {
		t.Errorf("subscribed channels %q while a conversation is open, want none (one pattern for the process)", chans)
	}
	channel := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix}).Channel(ws.Conversation())
	if err := rds.Client.Publish(ctx, channel, `!{"type":"typing","from":"agent","on":true}`).Err(); err != nil {
		t.Fatal(err)
	}
	f, err := ws.Until(ctx, func(f protocol.Frame) bool { _, ok := f.(*protocol.Typing); return ok })
	if err != nil {
		t.Fatalf("the agent's typing published on %s did not reach the visitor: %v", channel, err)
	}
	if ty := f.(*protocol.Typing); ty.From != "agent" || !ty.On {
		t.Fatalf("typing %+v", ty)
	}
}
