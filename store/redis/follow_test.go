package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestTurnsPublishedOnlyForAnotherFollower (issue 13): an engine's turn
// publishes a conversation's entries only when a process other than its
// own follows the conversation (its engine's Bus.Follow), or its own has
// another follower than the turn's maker (store.WithSelfDelivered): a
// process alone with a conversation reads no echo of its own turns. A
// self-delivered start registers its process; a process that registered
// and died (no unfollow) costs only publishes; a store without a process
// id (New, as the bench's reference server) publishes every turn. On one
// node and on the cluster, for a placed id (SPUBLISH) and another.
func TestTurnsPublishedOnlyForAnotherFollower(t *testing.T) {
	forEach(t, func(t *testing.T, open func(t *testing.T) target) {
		tg := open(t)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
		defer cancel()
		a, b := redisstore.NewEngine(tg.client(), tg.prefix), redisstore.NewEngine(tg.client(), tg.prefix)
		sa := a.Sessions(store.SessionOptions{TTL: time.Hour})
		sb := b.Sessions(store.SessionOptions{TTL: time.Hour})
		fa, fb := a.Bus().(store.Follows), b.Bus().(store.Follows)
		plain := redisstore.New(tg.client(), redisstore.Options{Prefix: tg.prefix, TTL: time.Hour})
		probes := redisstore.NewBus(tg.client())

		l, err := redisstore.NewBus(tg.client()).Listen(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.(store.PatternListener).PSubscribe(ctx, plain.Channel("*")); err != nil {
			t.Fatal(err)
		}
		n := 0
		// published reports whether turn r of id was published: a probe
		// published after it on the same channel (and node) comes first
		// when it was not.
		published := func(id string, r store.Result) bool {
			t.Helper()
			n++
			probe := fmt.Sprint("!probe ", n)
			if err := probes.Publish(ctx, plain.Channel(id), probe); err != nil {
				t.Fatal(err)
			}
			heard := false
			for {
				var m store.Message
				select {
				case m = <-l.Messages():
				case <-ctx.Done():
					t.Fatalf("%s: not even the probe was heard", id)
				}
				switch {
				case m.Resync || strings.HasPrefix(m.Payload, "!probe ") && m.Payload != probe:
				case m.Payload == probe:
					return heard
				case m.Channel == plain.Channel(id) && strings.HasPrefix(m.Payload, r.Entries[0].ID+" "):
					heard = true
				default:
					t.Fatalf("heard %+v, want the turn of %s (%s) or the probe", m, id, r.Entries[0].ID)
				}
			}
		}
		// The listener hears a probe before the test starts.
		for {
			if err := probes.Publish(ctx, plain.Channel("warm"), "!probe 0"); err != nil {
				t.Fatal(err)
			}
			select {
			case <-l.Messages():
			case <-time.After(100 * time.Millisecond):
				continue
			case <-ctx.Done():
				t.Fatal("the listener heard nothing")
			}
			break
		}
		text := func(s string) store.Step {
			return func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
				return sess, []store.Entry{{From: "visitor", Kind: "message", Text: s}}, nil
			}
		}
		turn := func(st store.SessionStore, ctx context.Context, id, s string) store.Result {
			t.Helper()
			r, err := st.Turn(ctx, id, "", text(s))
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		ids := []string{fmt.Sprintf("follow%d", rand.Int64())}
		if _, ok := tg.client().(*goredis.ClusterClient); ok {
			placed, other := placedID(t, plain)
			ids = []string{placed, other}
		}
		for _, id := range ids {
			self := store.WithSelfDelivered
			// A's widget starts the conversation: A is registered as its
			// one follower by the start, which is not published.
			r, err := sa.Create(self(ctx), &engine.Session{ID: id, Playbook: "p", Version: "h"}, []store.Entry{{From: "bot", Kind: "message", Text: "hi"}})
			if err != nil {
				t.Fatal(err)
			}
			if !r.Followed {
				t.Fatalf("%s: the self-delivered start did not register its process", id)
			}
			if published(id, r) {
				t.Errorf("%s: the start was published; nobody else follows", id)
			}
			if r := turn(sa, self(ctx), id, "mine"); published(id, r) {
				t.Errorf("%s: A's widget's own turn was published; nobody else follows", id)
			}
			// A turn made on A by something else than its follower (a
			// timer, an agent's action): A's follower needs it.
			if r := turn(sa, ctx, id, "a timer on A"); !published(id, r) {
				t.Errorf("%s: a turn of A's not made by its follower was not published", id)
			}
			// B follows: every turn is published.
			if err := fb.Follow(ctx, plain.Channel(id), 1); err != nil {
				t.Fatal(err)
			}
			if r := turn(sa, self(ctx), id, "mine, B follows"); !published(id, r) {
				t.Errorf("%s: A's own turn was not published while B follows", id)
			}
			if r := turn(sb, self(ctx), id, "B's tab"); !published(id, r) {
				t.Errorf("%s: B's turn was not published while A follows", id)
			}
			// B's last follower leaves.
			if err := fb.Follow(ctx, plain.Channel(id), 0); err != nil {
				t.Fatal(err)
			}
			if r := turn(sa, self(ctx), id, "alone again"); published(id, r) {
				t.Errorf("%s: A's own turn was published after B left", id)
			}
			// A's second local follower (another tab, an agent): A's
			// turns are published, and the echo reaches it.
			if err := fa.Follow(ctx, plain.Channel(id), 2); err != nil {
				t.Fatal(err)
			}
			if r := turn(sa, self(ctx), id, "two here"); !published(id, r) {
				t.Errorf("%s: A's turn was not published while A has two followers", id)
			}
			if err := fa.Follow(ctx, plain.Channel(id), 1); err != nil {
				t.Fatal(err)
			}
			if r := turn(sa, self(ctx), id, "one here"); published(id, r) {
				t.Errorf("%s: A's own turn was published after its second follower left", id)
			}
			// B registers and dies (no unfollow): only publishes.
			if err := fb.Follow(ctx, plain.Channel(id), 1); err != nil {
				t.Fatal(err)
			}
			if r := turn(sa, self(ctx), id, "B is gone"); !published(id, r) {
				t.Errorf("%s: A's turn was not published while B's registration stands", id)
			}
			// Nobody follows anywhere: nothing is published.
			for _, f := range []store.Follows{fa, fb} {
				if err := f.Follow(ctx, plain.Channel(id), 0); err != nil {
					t.Fatal(err)
				}
			}
			if r := turn(sa, ctx, id, "nobody"); published(id, r) {
				t.Errorf("%s: a turn nobody follows was published", id)
			}
			// A store without a process id publishes every turn.
			if r := turn(plain, ctx, id, "plain"); !published(id, r) {
				t.Errorf("%s: a store without a process id did not publish", id)
			}
		}
	})
}
