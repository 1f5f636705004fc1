package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/engine/redisstore"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
)

// flakyRecords fails its first calls, as a CRM that is away would, and
// keeps the records it was given after that, by key.
type flakyRecords struct {
	mu    sync.Mutex
	fails int
	calls int
	made  map[string]engine.Record
}

func (f *flakyRecords) Create(_ context.Context, _ string, rec engine.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		return errors.New("the CRM is away")
	}
	f.made[rec.Key] = rec
	return nil
}

func (f *flakyRecords) count() (calls, made int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, len(f.made)
}

// TestSweepFinishesWorkATurnLeft: the records of a turn cannot be made
// when the turn runs; the turn stays marked pending, and the sweep makes
// them once RecoverAfter has passed, then clears the mark.
func TestSweepFinishesWorkATurnLeft(t *testing.T) {
	rds := redistest.New(t)
	recs := &flakyRecords{fails: 1, made: map[string]engine.Record{}}
	ts := startServer(t, rds, copyPlaybooks(t), func(c *server.Config) {
		c.Records = recs
		c.RecoverAfter = 500 * time.Millisecond
	})
	salesOffline(t, ts, "ana@acme.io", "s")
	st := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix})
	// The lead, the deal and the task follow the answer; the first fails.
	eventually(t, "the turn's three create calls", func() bool { calls, _ := recs.count(); return calls == 3 })
	calls, made := recs.count()
	if n, _ := st.PendingCount(context.Background()); n != 1 || made == calls {
		t.Fatalf("after the turn: %d pending marks, %d of %d records made; want 1 mark and a failed call", n, made, calls)
	}
	want := calls // the records the card makes, one of which failed
	eventually(t, "the sweep to make the records and clear the mark", func() bool {
		n, _ := st.PendingCount(context.Background())
		_, made := recs.count()
		return n == 0 && made == want
	})
	if !strings.Contains(ts.log.String(), "finished the work of a turn a failure had left") {
		t.Error("the sweep did not log what it did")
	}
}
