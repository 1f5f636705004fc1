package storetest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Bus runs the conformance suite of store.Bus: messages reach the
// listeners of other instances that follow their channel, and only those;
// Unsubscribe and Close stop delivery.
func Bus(t *testing.T, open func(t *testing.T) func() store.Bus) {
	t.Run("BetweenProcesses", func(t *testing.T) {
		ctx := context.Background()
		newBus := open(t)
		a, b := newBus(), newBus()
		la, err := a.Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer la.Close()
		if err := la.Subscribe(ctx, "pb:{c:x}:live", "pb:{c:y}:live"); err != nil {
			t.Fatal(err)
		}
		waitSubscribed(t, b, la, "pb:{c:x}:live")
		waitSubscribed(t, b, la, "pb:{c:y}:live")
		for _, m := range []store.Message{{Channel: "pb:{c:z}:live", Payload: "not followed"}, {Channel: "pb:{c:x}:live", Payload: "1"}, {Channel: "pb:{c:y}:live", Payload: "2"}, {Channel: "pb:{c:x}:live", Payload: "3"}} {
			if err := b.Publish(ctx, m.Channel, m.Payload); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		for len(got) < 3 {
			select {
			case m := <-la.Messages():
				if m.Payload == probe || m.Resync {
					continue
				}
				got = append(got, m.Channel+"="+m.Payload)
			case <-time.After(10 * time.Second):
				t.Fatalf("got %v within 10s, want 3 messages", got)
			}
		}
		// Order holds per channel (a cluster spreads channels over nodes).
		var x, y []string
		for _, g := range got {
			if g[:8] == "pb:{c:x}" {
				x = append(x, g)
			} else {
				y = append(y, g)
			}
		}
		if len(x) != 2 || x[0] != "pb:{c:x}:live=1" || x[1] != "pb:{c:x}:live=3" || len(y) != 1 || y[0] != "pb:{c:y}:live=2" {
			t.Fatalf("got %v, want x=1 then x=3, and y=2, without the unfollowed channel", got)
		}
		// Unsubscribe and a new Subscribe keep the listener working. (What
		// was published in between may still arrive on a cluster, where a
		// message travels between nodes after PUBLISH returns.)
		if err := la.Unsubscribe(ctx, "pb:{c:x}:live"); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "pb:{c:x}:live", "while away"); err != nil {
			t.Fatal(err)
		}
		if err := la.Subscribe(ctx, "pb:{c:x}:live"); err != nil {
			t.Fatal(err)
		}
		if err := b.Publish(ctx, "pb:{c:x}:live", "back"); err != nil {
			t.Fatal(err)
		}
	drain:
		for {
			select {
			case m := <-la.Messages():
				if m.Channel != "pb:{c:x}:live" || m.Resync || m.Payload == probe {
					continue
				}
				if m.Payload == "back" {
					break drain
				}
			case <-time.After(10 * time.Second):
				t.Fatal("x went quiet after subscribing again")
			}
		}
		if err := la.Close(); err != nil {
			t.Fatal(err)
		}
		deadline := time.After(10 * time.Second)
		for {
			select {
			case _, ok := <-la.Messages():
				if !ok {
					return
				}
			case <-deadline:
				t.Fatal("Messages was not closed by Close")
			}
		}
	})
	t.Run("ManyListeners", func(t *testing.T) {
		ctx := context.Background()
		newBus := open(t)
		pub := newBus()
		const n = 5
		var wg sync.WaitGroup
		for i := range n {
			l, err := newBus().Listen(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			if err := l.Subscribe(ctx, "pb:{c:m}:live"); err != nil {
				t.Fatal(err)
			}
			waitSubscribed(t, pub, l, "pb:{c:m}:live")
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case m := <-l.Messages():
						if m.Payload == "hello" {
							return
						}
					case <-time.After(10 * time.Second):
						t.Errorf("listener %d got nothing", i)
						return
					}
				}
			}()
		}
		if err := pub.Publish(ctx, "pb:{c:m}:live", "hello"); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	})
}

// Secrets runs the conformance suite of store.Secrets: the first secret
// stored wins for every process; accepted secrets are shared.
func Secrets(t *testing.T, open func(t *testing.T) func() store.Secrets) {
	t.Run("SharedAndAccepted", func(t *testing.T) {
		ctx := context.Background()
		newSecrets := open(t)
		a, b := newSecrets(), newSecrets()
		cur, acc, err := a.SyncSecret(ctx, []byte("first"))
		if err != nil || string(cur) != "first" || len(acc) != 0 {
			t.Fatalf("first sync = %q %q %v", cur, acc, err)
		}
		cur, _, err = b.SyncSecret(ctx, []byte("second"))
		if err != nil || string(cur) != "first" {
			t.Fatalf("second process's sync = %q %v, want the first secret", cur, err)
		}
		if err := b.AcceptSecrets(ctx, [][]byte{[]byte("old"), []byte("older")}); err != nil {
			t.Fatal(err)
		}
		if err := a.AcceptSecrets(ctx, [][]byte{[]byte("old")}); err != nil {
			t.Fatal(err)
		}
		_, acc, err = a.SyncSecret(ctx, []byte("x"))
		if err != nil || len(acc) != 2 || !(bytes.Equal(acc[0], []byte("old")) || bytes.Equal(acc[1], []byte("old"))) {
			t.Fatalf("accepted = %q %v, want old and older once each", acc, err)
		}
	})
}
