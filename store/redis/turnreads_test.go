package redis_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
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

// batchTurns are conversations whose turns ask for reads (store.TurnReads:
// the inbox record, the CRM's memory), on a client that a test gives a
// Coalescer.
type batchTurns struct {
	rdb    goredis.UniversalClient
	plain  goredis.UniversalClient // the same Redis, no Coalescer
	st     *redisstore.Store
	prefix string
	ids    []string
}

// onBothBatched runs f on one node and on the cluster (skipped without
// one), with n conversations ready for a turn from the store's cache.
func onBothBatched(t *testing.T, n int, f func(t *testing.T, b *batchTurns)) {
	t.Run("node", func(t *testing.T) {
		srv := redistest.New(t)
		rdb := goredis.NewClient(srv.Client.Options())
		t.Cleanup(func() { rdb.Close() })
		f(t, newBatchTurns(t, rdb, srv.Client, srv.Prefix, n))
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.NewCluster(t)
		rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
		t.Cleanup(func() { rdb.Close() })
		f(t, newBatchTurns(t, rdb, cl.Client, cl.Prefix, n))
	})
}

func newBatchTurns(t *testing.T, rdb, plain goredis.UniversalClient, prefix string, n int) *batchTurns {
	ctx := context.Background()
	b := &batchTurns{rdb: rdb, plain: plain, prefix: prefix,
		st: redisstore.New(rdb, redisstore.Options{Prefix: prefix, TTL: time.Hour, Pending: func([]store.Entry) bool { return true }})}
	inbox := redisstore.NewInbox(rdb, prefix)
	crm := redisstore.NewCRM(rdb, prefix)
	for i := range n {
		id := fmt.Sprintf("c%d", i)
		b.ids = append(b.ids, id)
		if _, err := b.st.Create(ctx, &engine.Session{ID: id, Playbook: "p", Version: "h"}, []store.Entry{bot("hi")}); err != nil {
			t.Fatal(err)
		}
		if err := inbox.Start(ctx, &store.Conversation{ID: id, Status: store.StatusBot, Team: "team" + id, Playbook: "p", Labels: []string{}}, time.Hour); err != nil {
			t.Fatal(err)
		}
		if _, err := crm.Apply(ctx, &store.CRMChange{Conv: []store.ConvField{{Conv: id, Field: "person", Value: "per_" + id}}}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := b.st.Load(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := redisstore.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	return b
}

// turnAll runs a turn with reads on every conversation at once; until
// each has come back or waits in co, then closeCo (if any) runs, which
// lets the queued ones go.
func (b *batchTurns) turnAll(t *testing.T, co *redisstore.Coalescer, closeCo func()) ([]store.TurnReads, []error) {
	reads := make([]store.TurnReads, len(b.ids))
	errs := make([]error, len(b.ids))
	var back atomic.Int64
	var wg sync.WaitGroup
	for i, id := range b.ids {
		wg.Go(func() {
			defer back.Add(1)
			r := &reads[i]
			_, errs[i] = b.st.Turn(store.WithTurnReads(context.Background(), r), id, "m1", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
				r.Reset()
				r.Inbox, r.CRM = true, true
				return count(sess)
			})
		})
	}
	if closeCo != nil {
		deadline := time.Now().Add(10 * time.Second) // guards a hang only
		for int(back.Load())+redisstore.CoalescerWaiting(co) < len(b.ids) {
			if time.Now().After(deadline) {
				t.Fatalf("%d turns back and %d waiting, want %d in all", back.Load(), redisstore.CoalescerWaiting(co), len(b.ids))
			}
			runtime.Gosched()
		}
		closeCo()
	}
	wg.Wait()
	return reads, errs
}

// checkReads fails t unless each turn read its own conversation's inbox
// record and CRM memory.
func (b *batchTurns) checkReads(t *testing.T, reads []store.TurnReads, errs []error) {
	t.Helper()
	for i, id := range b.ids {
		r := reads[i]
		if errs[i] != nil || !r.Read || r.InboxErr != nil || r.CRMErr != nil {
			t.Errorf("turn of %s: %v, reads %+v", id, errs[i], r)
			continue
		}
		if r.InboxRecord == nil || r.InboxRecord.ID != id || r.InboxRecord.Team != "team"+id || r.CRMMemory["person"] != "per_"+id {
			t.Errorf("turn of %s read inbox %+v, CRM %v", id, r.InboxRecord, r.CRMMemory)
		}
	}
}

// TestTurnsWithReadsShareTheBatch: a turn that asks for reads with its
// write (a lead's create, an ending turn's look for the chat's person) is
// a pipeline of its own (the EVALSHA, then the reads, on a Cluster the
// pending mark), and rides in the Coalescer's batch like any turn (issue
// 13): four such turns at once are one round trip, each with its own
// reads after its own write.
func TestTurnsWithReadsShareTheBatch(t *testing.T) {
	onBothBatched(t, 4, func(t *testing.T, b *batchTurns) {
		co := redisstore.Coalesce(b.rdb, redisstore.CoalesceOptions{Window: time.Hour})
		t.Cleanup(co.Close)
		trips := &pipeCounter{}
		b.rdb.AddHook(trips)
		reads, errs := b.turnAll(t, co, co.Close)
		b.checkReads(t, reads, errs)
		if sizes, single := trips.get(); len(sizes) != 1 || single != 0 {
			t.Errorf("4 turns with reads: pipelines %v and %d commands alone, want one pipeline", sizes, single)
		}
	})
}

// TestTurnsWithReadsInAFailedBatch: a batch that fails (its connection
// broke) fails each of its turns, as it fails a turn sent alone.
func TestTurnsWithReadsInAFailedBatch(t *testing.T) {
	onBothBatched(t, 4, func(t *testing.T, b *batchTurns) {
		co := redisstore.Coalesce(b.rdb, redisstore.CoalesceOptions{Window: time.Hour})
		t.Cleanup(co.Close)
		b.rdb.AddHook(failingPipelines{})
		_, errs := b.turnAll(t, co, co.Close)
		for i, err := range errs {
			if !errors.Is(err, errBrokenBatch) {
				t.Errorf("turn of %s in a failed batch: %v, want %v", b.ids[i], err, errBrokenBatch)
			}
		}
	})
}

// TestTurnsWithReadsInABatchLoadTheScript: turns with reads batched after
// Redis forgot the turn script (a restart, SCRIPT FLUSH) each get
// NOSCRIPT, load it and run again, as alone.
func TestTurnsWithReadsInABatchLoadTheScript(t *testing.T) {
	onBothBatched(t, 6, func(t *testing.T, b *batchTurns) {
		co := redisstore.Coalesce(b.rdb, redisstore.CoalesceOptions{})
		t.Cleanup(co.Close)
		ctx := context.Background()
		flush := func(ctx context.Context, c *goredis.Client) error { return c.ScriptFlush(ctx).Err() }
		var err error
		if cc, ok := b.plain.(*goredis.ClusterClient); ok {
			err = cc.ForEachMaster(ctx, flush)
		} else {
			err = flush(ctx, b.plain.(*goredis.Client))
		}
		if err != nil {
			t.Fatal(err)
		}
		reads, errs := b.turnAll(t, co, nil)
		b.checkReads(t, reads, errs)
		if c := co.Stats().Commands.Load(); c < int64(2*len(b.ids)) {
			t.Errorf("%d commands batched, want the turns' and their reads (%d at least)", c, 2*len(b.ids))
		}
	})
}

var errBrokenBatch = errors.New("connection reset (test)")

// failingPipelines fails every pipeline that carries a turn as go-redis
// does when the connection breaks: each command gets the error.
type failingPipelines struct{}

func (failingPipelines) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (failingPipelines) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return next
}
func (failingPipelines) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if !slices.ContainsFunc(cmds, func(c goredis.Cmder) bool { return c.Name() == "evalsha" }) {
			return next(ctx, cmds)
		}
		for _, c := range cmds {
			c.SetErr(errBrokenBatch)
		}
		return errBrokenBatch
	}
}
