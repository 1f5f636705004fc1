package redis_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// listenerGoroutines counts the goroutines that read or watch a
// listener's pub/sub connection: the listener's own reader, and the
// reader and health check go-redis's PubSub channels start.
func listenerGoroutines(t *testing.T) int {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 2); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range strings.Split(b.String(), "\n\n") {
		if strings.Contains(g, "go-redis/v9.(*channel)") || strings.Contains(g, "store/redis.(*listener).run") {
			n++
		}
	}
	return n
}

// TestListenerReadsItself (issue 13, eleventh round): a listener reads its
// pub/sub connection on one goroutine, which hands each message on. Over
// go-redis's ChannelWithSubscriptions, a message (every turn's echo)
// went through go-redis's reader goroutine, woke its health check and
// then the listener's own goroutine: three goroutines, two switches more
// a message. An idle connection is still proved by a ping.
func TestListenerReadsItself(t *testing.T) {
	srv := redistest.New(t)
	ctx := context.Background()
	before := listenerGoroutines(t)
	bus := redisstore.NewBus(srv.Client)
	l, err := bus.Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix})
	ch := st.Channel("a")
	if err := l.Subscribe(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, ch, "a1"); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-l.Messages():
		if m.Channel != ch || m.Payload != "a1" {
			t.Fatalf("got %+v", m)
		}
	case <-time.After(10 * time.Second): // a guard against a hang
		t.Fatal("no message within 10s")
	}
	if n := listenerGoroutines(t) - before; n != 1 {
		t.Fatalf("%d goroutines read or watch the listener's connection, want 1", n)
	}
}

// TestListenerResyncsAfterABreak: when its connection breaks, a listener
// connects and subscribes again (go-redis, on its next receive), tells
// each channel and pattern it follows to catch up (a Resync), and hears
// what is published afterwards.
func TestListenerResyncsAfterABreak(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "CLIENT KILL, which breaks the listener's connection")
	ctx := context.Background()
	bus := redisstore.NewBus(srv.Client)
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
	if err := srv.Client.Do(ctx, "CLIENT", "KILL", "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	next := func() store.Message {
		t.Helper()
		select {
		case m, ok := <-l.Messages():
			if !ok {
				t.Fatal("the listener closed")
			}
			return m
		case <-time.After(10 * time.Second): // a guard against a hang
			t.Fatal("no message within 10s")
		}
		return store.Message{}
	}
	resynced := map[string]bool{}
	for len(resynced) < 2 {
		m := next()
		if !m.Resync {
			t.Fatalf("got %+v before the Resyncs", m)
		}
		resynced[m.Channel] = true
	}
	if !resynced[ch] || !resynced[pattern] {
		t.Fatalf("Resyncs of %v, want %s and %s", resynced, ch, pattern)
	}
	if err := bus.Publish(ctx, ch, "a2"); err != nil {
		t.Fatal(err)
	}
	// Heard twice: by the channel and by the pattern.
	for range 2 {
		if m := next(); m.Channel != ch || m.Payload != "a2" || m.Resync {
			t.Fatalf("got %+v, want a2 on %s", m, ch)
		}
	}
}
