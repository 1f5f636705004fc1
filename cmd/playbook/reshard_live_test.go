package main

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestShardedLiveFollowsAReshard (issue 13): a placed conversation's live
// messages go by sharded pub/sub on its slot (store/redis/shardbus.go).
// When the slot moves to another master (a reshard), Redis ends the
// listener's subscription there (sunsubscribe); the listener subscribes
// on the new owner, tells its followers to catch up (a Resync covering
// the conversation), and hears the conversation's next turn.
func TestShardedLiveFollowsAReshard(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard against a hang
	defer cancel()
	nodes := startOwnCluster(ctx, t)
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
	}
	rdb := newClusterClient(addrs, &redis.Options{})
	defer rdb.Close()
	st := redisstore.New(rdb, redisstore.Options{Prefix: "reshard:", TTL: time.Hour})
	var placed string
	for placed == "" {
		b := make([]byte, 26)
		for i := range b {
			b[i] = "234567abcdefghijklmnopqrstuvwxyz"[rand.IntN(32)]
		}
		placed, _ = st.PlaceID(b)
	}
	l, err := redisstore.NewBus(rdb).Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sl := l.(store.ShardListener)
	if err := sl.PSubscribe(ctx, st.Channel("*")); err != nil {
		t.Fatal(err)
	}
	next := func(what string) store.Message {
		t.Helper()
		select {
		case m := <-l.Messages():
			return m
		case <-ctx.Done():
			t.Fatalf("%s: nothing heard", what)
		}
		return store.Message{}
	}
	step := func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		sess.Turn++
		return sess, []store.Entry{{From: "bot", Kind: "message", Text: "turn " + string(rune('0'+sess.Turn)), At: time.Now()}}, nil
	}
	// turnHeard stores a turn and waits for its live message. A Resync of
	// the conversation's shard after the turn says the shard was subscribed
	// again meanwhile (a slot map read from a node that had not yet
	// learnt of the move, then corrected) and that what was published
	// then may be lost, as followers are told to catch up from the store:
	// the turn is then stored again, a few times at most. A message lost
	// without a Resync still fails.
	turns := 0
	turnHeard := func() {
		t.Helper()
		for try := 1; ; try++ {
			r, err := st.Turn(ctx, placed, "", step)
			if err != nil {
				t.Fatal(err)
			}
			turns++
			want := "turn " + string(rune('0'+turns))
			m := next("the turn")
			for m.Resync && !sl.Covers(m.Channel, st.Channel(placed)) {
				m = next("the turn")
			}
			if m.Resync {
				t.Logf("a Resync of %s after %s: stored again", m.Channel, want)
				if try == 3 {
					t.Fatalf("the shard resynced after each of %d turns", try)
				}
				continue
			}
			if m.Channel != st.Channel(placed) || !strings.HasPrefix(m.Payload, r.Entries[0].ID+" ") || !strings.Contains(m.Payload, want) {
				t.Fatalf("heard %+v, want %q of %s", m, want, placed)
			}
			return
		}
	}
	if _, err := st.Create(ctx, &engine.Session{ID: placed, Playbook: "p", Version: "h"}, nil); err != nil {
		t.Fatal(err)
	}
	turnHeard()

	// The slot moves: keys migrated, then the slot given to the new
	// owner on every master.
	slot, err := rdb.ClusterKeySlot(ctx, st.Channel(placed)).Result()
	if err != nil {
		t.Fatal(err)
	}
	src, err := rdb.MasterForKey(ctx, st.Channel(placed))
	if err != nil {
		t.Fatal(err)
	}
	var dst *redis.Client
	var masters []*redis.Client
	var mu sync.Mutex // ForEachMaster calls in parallel
	if err := rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		masters = append(masters, n)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range masters {
		if m.Options().Addr != src.Options().Addr {
			dst = m
			break
		}
	}
	srcID, err := src.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	dstID, err := dst.ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err())
	must(src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err())
	host, port, _ := strings.Cut(dst.Options().Addr, ":")
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, int(slot), 100).Result()
		must(err)
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		must(src.Do(ctx, args...).Err())
	}
	must(dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	must(src.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	for _, m := range masters {
		must(m.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err())
	}

	// The listener catches up, subscribed on the new owner.
	for {
		m := next("a Resync after the reshard")
		if m.Resync && sl.Covers(m.Channel, st.Channel(placed)) {
			break
		}
	}
	turnHeard()
	if n, err := dst.ClusterCountKeysInSlot(ctx, int(slot)).Result(); err != nil || n == 0 {
		t.Fatalf("%d keys (%v) of the moved slot on its new owner: the reshard did not happen", n, err)
	}
}
