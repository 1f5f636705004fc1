package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestBusPattern: one pattern subscription hears every conversation's
// channel of the prefix (published by another process, on one node or a
// cluster, where they live on different masters), in order per channel,
// and nothing else.
func TestBusPattern(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		tg := open(t)
		ctx := context.Background()
		sub, pub := redisstore.NewBus(tg.client()), redisstore.NewBus(tg.client())
		l, err := sub.Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		pl, ok := l.(store.PatternListener)
		if !ok {
			t.Fatal("the Redis bus's listener takes no patterns")
		}
		st := redisstore.New(tg.client(), redisstore.Options{Prefix: tg.prefix})
		if err := pl.PSubscribe(ctx, st.Channel("*")); err != nil {
			t.Fatal(err)
		}
		// On a cluster a message travels between nodes after PUBLISH
		// returns: probe until the subscription hears one.
		probe := st.Channel("probe")
		for deadline := time.Now().Add(10 * time.Second); ; {
			if err := pub.Publish(ctx, probe, "probe"); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-l.Messages():
				if m.Channel != probe || m.Payload != "probe" {
					t.Fatalf("got %+v, want the probe", m)
				}
			case <-time.After(100 * time.Millisecond):
				if time.Now().After(deadline) {
					t.Fatal("the pattern subscription heard no probe within 10s")
				}
				continue
			}
			break
		}
		other := redisstore.New(tg.client(), redisstore.Options{Prefix: tg.prefix + "other:"})
		for _, m := range []store.Message{
			{Channel: other.Channel("a"), Payload: "another prefix"},
			{Channel: tg.prefix + "inbox", Payload: "not a conversation"},
			{Channel: st.Channel("a"), Payload: "a1"}, {Channel: st.Channel("b"), Payload: "b1"},
			{Channel: st.Channel("a"), Payload: "a2"}, {Channel: st.Channel("b"), Payload: "b2"},
		} {
			if err := pub.Publish(ctx, m.Channel, m.Payload); err != nil {
				t.Fatal(err)
			}
		}
		got := map[string][]string{}
		for n := 0; n < 4; n++ {
			select {
			case m := <-l.Messages():
				if m.Payload == "probe" {
					n--
					continue
				}
				got[m.Channel] = append(got[m.Channel], m.Payload)
			case <-time.After(10 * time.Second):
				t.Fatalf("got %v within 10s, want 4 messages", got)
			}
		}
		a, b := got[st.Channel("a")], got[st.Channel("b")]
		if len(got) != 2 || len(a) != 2 || a[0] != "a1" || a[1] != "a2" || len(b) != 2 || b[0] != "b1" || b[1] != "b2" {
			t.Fatalf("got %v, want a1, a2 on a and b1, b2 on b, and nothing of the other channels", got)
		}
	})
}
