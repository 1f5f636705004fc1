package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// blackHole dials real connections that it can later make silent: what is
// written to a silent connection is dropped and nothing more is read from
// it, while it stays open, as when a NAT or a load balancer forgets an idle
// connection, a network parts, or a failed-over Redis host goes away
// without a reset. Connections dialled after silence work.
type blackHole struct {
	mu    sync.Mutex
	conns []*holeConn
}

type holeConn struct {
	net.Conn
	silent atomic.Bool
}

func (h *blackHole) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	hc := &holeConn{Conn: c}
	h.mu.Lock()
	h.conns = append(h.conns, hc)
	h.mu.Unlock()
	return hc, nil
}

// silence makes every connection dialled so far silent.
func (h *blackHole) silence() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.silent.Store(true)
	}
}

func (c *holeConn) Write(b []byte) (int, error) {
	if c.silent.Load() {
		return len(b), nil
	}
	return c.Conn.Write(b)
}

func (c *holeConn) Read(b []byte) (int, error) {
	for {
		n, err := c.Conn.Read(b) // the read deadline still applies
		if err != nil || !c.silent.Load() {
			return n, err
		}
	}
}

// nextHeard is l's next message, or t fails when ctx ends first.
func nextHeard(t *testing.T, ctx context.Context, l store.Listener, what string) store.Message {
	t.Helper()
	select {
	case m, ok := <-l.Messages():
		if !ok {
			t.Fatal("the listener closed")
		}
		return m
	case <-ctx.Done():
		t.Fatalf("%s: nothing heard in time", what)
	}
	return store.Message{}
}

// TestListenerNoticesASilentConnection: a listener whose pub/sub
// connection goes silent without breaking (no reset, no error: pings are
// written without a word back) gives it up once a ping after an idle
// while is not answered in time, connects and subscribes again, tells
// its channels and patterns to catch up (Resyncs) and hears what is
// published next. Before, its idle check only wrote a ping, which a
// silent connection takes, and it waited deaf until the kernel gave the
// connection up (about 15 minutes of retransmissions on Linux): live
// chat silently down for that long.
func TestListenerNoticesASilentConnection(t *testing.T) {
	srv := redistest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
	defer cancel()
	var h blackHole
	opt := *srv.Client.Options()
	opt.Dialer = h.dial
	rdb := goredis.NewClient(&opt)
	defer rdb.Close()

	bus := redisstore.NewBus(rdb)
	redisstore.SetBusChecks(bus, 20*time.Millisecond, time.Second)
	l, err := bus.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix})
	ch, pattern := st.Channel("a"), st.Channel("*")
	if err := l.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if err := l.(store.PatternListener).PSubscribe(ctx, pattern); err != nil {
		t.Fatal(err)
	}
	h.silence()

	next := func(what string) store.Message { t.Helper(); return nextHeard(t, ctx, l, what) }
	resynced := map[string]bool{}
	for len(resynced) < 2 {
		m := next("the Resyncs after the connection went silent")
		if !m.Resync {
			t.Fatalf("got %+v before the Resyncs", m)
		}
		resynced[m.Channel] = true
	}
	if !resynced[ch] || !resynced[pattern] {
		t.Fatalf("Resyncs of %v, want %s and %s", resynced, ch, pattern)
	}
	if err := redisstore.NewBus(srv.Client).Publish(ctx, ch, "a2"); err != nil {
		t.Fatal(err)
	}
	for heard := 0; heard < 2; { // by the channel and by the pattern
		m := next("a2")
		if m.Resync {
			continue // a busy machine may keep a pong past the wait: another catch-up, harmless
		}
		if m.Channel != ch || m.Payload != "a2" {
			t.Fatalf("got %+v, want a2 on %s", m, ch)
		}
		heard++
	}
}

// TestShardListenerNoticesASilentConnection: the same on a Cluster, where
// a placed conversation's turns come by sharded pub/sub on a connection to
// each master: once every connection goes silent, the listener's shard
// channels and its pattern come back as Resyncs and it hears the
// conversation's next turn.
func TestShardListenerNoticesASilentConnection(t *testing.T) {
	cl := redistest.NewCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
	defer cancel()
	var h blackHole
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs, Dialer: h.dial,
		ClientName: fmt.Sprintf("silenttest-%d", rand.Int64())})
	defer cc.Close()
	st := redisstore.New(cl.Client, redisstore.Options{Prefix: cl.Prefix, TTL: time.Hour})
	placed, _ := placedID(t, st)
	sess := &engine.Session{ID: placed, Playbook: "p", Version: "h"}
	if _, err := st.Create(ctx, sess, nil); err != nil {
		t.Fatal(err)
	}

	bus := redisstore.NewBus(cc)
	redisstore.SetBusChecks(bus, 20*time.Millisecond, time.Second)
	l, err := bus.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sl := l.(store.ShardListener)
	pattern := st.Channel("*")
	if err := sl.PSubscribe(ctx, pattern); err != nil {
		t.Fatal(err)
	}
	h.silence()

	next := func(what string) store.Message { t.Helper(); return nextHeard(t, ctx, l, what) }
	// Both the pattern's connection and the placed conversation's shard
	// must come back.
	var patternBack, shardBack bool
	for !patternBack || !shardBack {
		m := next("the Resyncs after the connections went silent")
		if !m.Resync {
			continue // what the cluster's other tests publish under the pattern
		}
		switch {
		case m.Channel == pattern:
			patternBack = true
		case sl.Covers(m.Channel, st.Channel(placed)):
			shardBack = true
		}
	}
	r, err := st.Turn(ctx, placed, "", count)
	if err != nil {
		t.Fatal(err)
	}
	for {
		m := next("the turn after the Resyncs")
		if m.Resync || m.Channel != st.Channel(placed) {
			continue
		}
		if !strings.HasPrefix(m.Payload, r.Entries[0].ID+" ") {
			t.Fatalf("heard %+v, want the turn %s", m, r.Entries[0].ID)
		}
		break
	}
}
