package redis_test

import (
	"context"
	"maps"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// roundTrips counts the requests (a command or a pipeline) a client waits
// for.
type roundTrips struct{ n atomic.Int64 }

func (c *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (c *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error { c.n.Add(1); return next(ctx, cmd) }
}
func (c *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error { c.n.Add(1); return next(ctx, cmds) }
}

// TestTurnReadsRideWithTheTurn: what a turn's step asks for in
// store.TurnReads (the conversation's inbox record, the CRM's memory of it
// and index entries) is read in the turn's own round trip, after its
// write, on one node and on a Cluster (where the turn is marked pending in
// the same pipeline); on one node, the records they name too (a lead's
// known organization).
func TestTurnReadsRideWithTheTurn(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		srv := redistest.New(t)
		rdb := goredis.NewClient(srv.Client.Options())
		t.Cleanup(func() { rdb.Close() })
		turnReads(t, rdb, srv.Prefix)
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.NewCluster(t)
		rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
		t.Cleanup(func() { rdb.Close() })
		turnReads(t, rdb, cl.Prefix)
	})
}

func turnReads(t *testing.T, rdb goredis.UniversalClient, prefix string) {
	ctx := context.Background()
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix, TTL: time.Hour, Pending: func([]store.Entry) bool { return true }})
	inbox := redisstore.NewInbox(rdb, prefix)
	c := redisstore.NewCRM(rdb, prefix)
	sess := &engine.Session{ID: "c1", Playbook: "p", Version: "h"}
	if _, err := st.Create(ctx, sess, []store.Entry{bot("hi")}); err != nil {
		t.Fatal(err)
	}
	if err := inbox.Start(ctx, &store.Conversation{ID: "c1", Status: store.StatusBot, Team: "sales", Playbook: "p", Labels: []string{}}, time.Hour); err != nil {
		t.Fatal(err)
	}
	email := store.IndexKey("email", "ada@example.com")
	if _, err := c.Apply(ctx, &store.CRMChange{Indexes: []store.CAS{{Name: email, New: "per_1"}}, Conv: []store.ConvField{{Conv: "c1", Field: "person", Value: "per_1"}}}); err != nil {
		t.Fatal(err)
	}
	// Loaded once: the turn below comes from the cache, one round trip.
	if _, _, err := st.Load(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	counter := &roundTrips{}
	rdb.AddHook(counter)
	reads := &store.TurnReads{}
	r, err := st.Turn(store.WithTurnReads(ctx, reads), "c1", "m1", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		reads.Reset()
		reads.Inbox, reads.CRM = true, true
		reads.CRMIndexes = []string{email, store.IndexKey("phone", "+15550100")}
		return count(sess)
	})
	if err != nil || r.Version != 2 || r.Pending == "" {
		t.Fatalf("turn = %+v, %v", r, err)
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d round trips for the turn and its reads, want 1", n)
	}
	if !reads.Read || reads.InboxErr != nil || reads.CRMErr != nil {
		t.Fatalf("reads = %+v", reads)
	}
	if reads.InboxRecord == nil || reads.InboxRecord.Team != "sales" || reads.InboxRecord.ID != "c1" {
		t.Errorf("inbox record read with the turn = %+v", reads.InboxRecord)
	}
	if reads.CRMMemory["person"] != "per_1" || !slices.Equal(reads.CRMIDs, []string{"per_1", ""}) {
		t.Errorf("CRM read with the turn = %v %v, want person per_1 and ids [per_1 \"\"]", reads.CRMMemory, reads.CRMIDs)
	}
	// The records the ids and the memory name, asked for too: in the same
	// round trip on one node (one script), not read on a Cluster (their
	// keys are in other slots, known only once the ids are read).
	person, org := `{"kind":"person","email":"ada@example.com"}`, `{"kind":"organization","domain":"example.com"}`
	if _, err := c.Apply(ctx, &store.CRMChange{Records: []store.CAS{{Name: "per_1", New: person}, {Name: "org_1", New: org}},
		Conv: []store.ConvField{{Conv: "c1", Field: "organization", Value: "org_1"}}}); err != nil {
		t.Fatal(err)
	}
	// The first such turn may find the script not loaded yet (a node
	// without it reads again, once): the second is counted.
	for _, id := range []string{"m3", "m4"} {
		counter.n.Store(0)
		if _, err := st.Turn(store.WithTurnReads(ctx, reads), "c1", id, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
			reads.Reset()
			reads.CRM, reads.CRMRecords = true, true
			reads.CRMIndexes = []string{email, store.IndexKey("phone", "+15550100")}
			return count(sess)
		}); err != nil {
			t.Fatal(err)
		}
		if reads.CRMErr != nil || reads.CRMMemory["organization"] != "org_1" || !slices.Equal(reads.CRMIDs, []string{"per_1", ""}) {
			t.Errorf("%s: CRM read with records = %v %v %v", id, reads.CRMMemory, reads.CRMIDs, reads.CRMErr)
		}
		if _, cluster := rdb.(*goredis.ClusterClient); cluster {
			if reads.CRMRecordsRead != nil {
				t.Errorf("%s: records read with the turn on a Cluster: %v", id, reads.CRMRecordsRead)
			}
		} else if want := map[string]string{"per_1": person, "org_1": org}; !maps.Equal(reads.CRMRecordsRead, want) {
			t.Errorf("%s: records read with the turn = %v, want %v", id, reads.CRMRecordsRead, want)
		}
	}
	if n := counter.n.Load(); n != 1 {
		t.Errorf("%d round trips for the turn and its reads with records, want 1", n)
	}
	// A turn that asks for nothing reads nothing.
	reads.Reset()
	if _, err := st.Turn(store.WithTurnReads(ctx, reads), "c1", "m2", count); err != nil {
		t.Fatal(err)
	}
	if reads.Read {
		t.Errorf("a turn that asked for nothing read %+v", reads)
	}
	// No record: the inbox answers ErrInboxNotFound.
	if _, err := st.Create(ctx, &engine.Session{ID: "c2", Playbook: "p", Version: "h"}, nil); err != nil {
		t.Fatal(err)
	}
	reads.Reset()
	if _, err := st.Turn(store.WithTurnReads(ctx, reads), "c2", "m1", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		reads.Reset()
		reads.Inbox = true
		return count(sess)
	}); err != nil {
		t.Fatal(err)
	}
	if !reads.Read || reads.InboxRecord != nil || reads.InboxErr != store.ErrInboxNotFound {
		t.Errorf("reads of a conversation without an inbox record = %+v", reads)
	}
}
