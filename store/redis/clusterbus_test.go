package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestEngineBusPublishesInTheBatch: the engine's Bus publishes through the
// client, so a message rides in the Coalescer's batch with the other
// callers' commands, on a Cluster too: the inbox channel's PUBLISH (a
// handoff's new-chat notice) and a placed conversation's SPUBLISH (its
// typing dots, an agent's message). Before, a Cluster's Bus sent each on
// its master's node client, a request of its own that no batch saw (the
// Coalescer never got it: this test waited for it there in vain).
func TestEngineBusPublishesInTheBatch(t *testing.T) {
	onBoth(t, redisstore.CoalesceOptions{Window: time.Hour, MaxBatch: 4}, func(t *testing.T, e coalesceEnv) {
		ctx := context.Background()
		eng := redisstore.NewEngine(e.rdb, e.prefix)
		channel := e.prefix + "inbox"
		sub := e.plain.Subscribe(ctx, channel)
		defer sub.Close()
		if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
			t.Fatal(err)
		}
		// A conversation's live channel: placed on a Cluster (SPUBLISH on
		// its shard channel), classic on one node.
		st := redisstore.New(e.rdb, redisstore.Options{Prefix: e.prefix})
		id := []byte("2al6qsjf46223xspyix67445w6")
		placed, ok := st.PlaceID(id)
		if !ok {
			t.Fatalf("PlaceID(%q) refused", id)
		}
		live := st.Channel(placed)
		bus := eng.Bus()
		errs := make([]error, 4)
		var wg sync.WaitGroup
		wg.Go(func() { errs[0] = bus.Publish(ctx, channel, "new chat") })
		waitQueued(t, e.co, 1)
		wg.Go(func() { errs[1] = bus.Publish(ctx, live, "typing") })
		waitQueued(t, e.co, 2)
		for i := 2; i < 4; i++ {
			wg.Go(func() { errs[i] = e.rdb.Set(ctx, e.prefix+"{k}"+string(rune('a'+i)), i, 0).Err() })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("command %d: %v", i, err)
			}
		}
		if sizes, single := e.count.get(); len(sizes) != 1 || sizes[0] != 4 || single != 0 {
			t.Errorf("pipelines %v and %d commands alone, want one pipeline of 4", sizes, single)
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second) // guards a hang only
		defer cancel()
		if m, err := sub.ReceiveMessage(rctx); err != nil || m.Payload != "new chat" {
			t.Errorf("heard %v, %v; want the new chat", m, err)
		}
	})
}
