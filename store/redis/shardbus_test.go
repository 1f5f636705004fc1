package redis_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestShardedLiveOnACluster (issue 13): on a Redis Cluster a placed
// conversation's live messages (its turns' entries, and what Bus.Publish
// sends on its channel) go by sharded pub/sub on its own slot, not by a
// PUBLISH the cluster bus sends to every node: a classic subscriber on
// another master hears none of them, while the bus's listener (one
// pattern, as the hub's) hears every one on the conversation's channel,
// as before; a conversation that is not placed still goes by PUBLISH.
// After the listener's shard connection is cut, its shard channels come
// back as Resyncs that cover the conversation, and it hears the next
// turn.
func TestShardedLiveOnACluster(t *testing.T) {
	cl := redistest.NewCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
	defer cancel()
	name := fmt.Sprintf("shardtest-%d", rand.Int64())
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs, ClientName: name})
	defer cc.Close()
	st := redisstore.New(cc, redisstore.Options{Prefix: cl.Prefix, TTL: time.Hour})
	placed, refused := placedID(t, st)

	l, err := redisstore.NewBus(cc).Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	sl, ok := l.(store.ShardListener)
	if !ok {
		t.Fatal("the Redis bus's listener is no ShardListener")
	}
	if err := sl.PSubscribe(ctx, st.Channel("*")); err != nil {
		t.Fatal(err)
	}

	// A classic pattern subscriber on each master but the placed
	// conversation's own.
	owner, err := cc.MasterForKey(ctx, st.Channel(placed))
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex // ForEachMaster calls in parallel
		others []*goredis.PubSub
	)
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		if n.Options().Addr == owner.Options().Addr {
			return nil
		}
		raw := goredis.NewClient(&goredis.Options{Addr: n.Options().Addr})
		t.Cleanup(func() { raw.Close() })
		ps := raw.PSubscribe(ctx, cl.Prefix+"*")
		if _, err := ps.Receive(ctx); err != nil { // the confirmation
			return err
		}
		mu.Lock()
		others = append(others, ps)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(others) == 0 {
		t.Fatal("a cluster of one master")
	}

	// next is the listener's next message.
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
	turn := func(id string) store.Result {
		t.Helper()
		sess := &engine.Session{ID: id, Playbook: "p", Version: "h"}
		if _, err := st.Create(ctx, sess, nil); err != nil {
			t.Fatal(err)
		}
		r, err := st.Turn(ctx, id, "", count)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	heard := func(id string, r store.Result) {
		t.Helper()
		for {
			m := next("the turn of " + id)
			if m.Resync {
				continue
			}
			want := r.Entries[0].ID + " "
			if m.Channel != st.Channel(id) || !strings.HasPrefix(m.Payload, want) || !strings.Contains(m.Payload, "turn 1") {
				t.Fatalf("heard %+v, want the turn of %s on %s (%s...)", m, id, st.Channel(id), want)
			}
			return
		}
	}

	// A turn of the placed conversation, a signal on its channel, and a
	// turn of one that is not placed.
	heard(placed, turn(placed))
	if err := redisstore.NewBus(cc).Publish(ctx, st.Channel(placed), "!typing"); err != nil {
		t.Fatal(err)
	}
	if m := next("the signal"); m.Channel != st.Channel(placed) || m.Payload != "!typing" {
		t.Fatalf("heard %+v, want the signal on %s", m, st.Channel(placed))
	}
	heard(refused, turn(refused))

	// The other masters: a PUBLISH on every master after the turns
	// comes after whatever each broadcast before (the cluster bus keeps
	// a node's order), so when all have arrived, what came before is all
	// there is.
	sentinel := cl.Prefix + "sentinel"
	masters := 0
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		mu.Lock()
		masters++
		mu.Unlock()
		return n.Publish(ctx, sentinel, n.Options().Addr).Err()
	}); err != nil {
		t.Fatal(err)
	}
	for _, ps := range others {
		var got []string
		for n := 0; n < masters; {
			msg, err := ps.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Channel == sentinel {
				n++
				continue
			}
			got = append(got, msg.Channel+" "+msg.Payload)
		}
		notPlaced := false
		for _, g := range got {
			if strings.HasPrefix(g, st.Channel(placed)) || strings.Contains(g, placed+"\n") {
				t.Errorf("another master heard the placed conversation's %q: its messages are broadcast", g)
			}
			notPlaced = notPlaced || strings.HasPrefix(g, st.Channel(refused)+" ")
		}
		if !notPlaced {
			t.Errorf("another master did not hear the conversation that is not placed (PUBLISH reaches every node): %q", got)
		}
	}

	// A break: the listener's shard connection to the owner is cut.
	list, err := owner.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") || !strings.Contains(line, " ssub=") || strings.Contains(line, " ssub=0 ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := owner.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed != 1 {
		t.Fatalf("%d shard connections of the listener on the owner, want 1:\n%s", killed, list)
	}
	for {
		m := next("a Resync after the break")
		if m.Resync && sl.Covers(m.Channel, st.Channel(placed)) {
			break
		}
	}
	r, err := st.Turn(ctx, placed, "", count)
	if err != nil {
		t.Fatal(err)
	}
	for {
		m := next("the turn after the break")
		if m.Resync {
			continue
		}
		if m.Channel != st.Channel(placed) || !strings.HasPrefix(m.Payload, r.Entries[0].ID+" ") || !strings.Contains(m.Payload, "turn 2") {
			t.Fatalf("heard %+v after the break, want the second turn of %s", m, placed)
		}
		break
	}
}
