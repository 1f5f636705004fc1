package server_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/playbook-dev/playbook/internal/servertest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
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
	ts := startServer(t, rds, copyPlaybooks(t), func(c *servertest.Config) {
		c.Records = recs
		c.RecoverAfter = 500 * time.Millisecond
	})
	salesOffline(t, ts, "ana@acme.io", "s")
	st := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix})
	// The lead, the deal and the task follow the answer; the first fails.
	eventually(t, "the turn's three create calls", func() bool { calls, _ := recs.count(); return calls == 3 })
	calls, made := recs.count()
	// The other turns' marks are cleared in the background (the fold
	// batcher): wait for what is queued.
	if err := ts.srv.Service().Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
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

// missCut fails, while cut is set, the inbox's scripts that mark a chat
// missed (a failover, or a process that dies between the timer's turn and
// the mark), and counts the failures.
type missCut struct {
	cut    atomic.Bool
	failed atomic.Int32
}

func (h *missCut) hits(cmd redis.Cmder) bool {
	if !h.cut.Load() {
		return false
	}
	switch strings.ToLower(cmd.Name()) {
	case "eval", "evalsha":
		// Not the turn script (its first key the session's), whose funnel
		// facts, written with the turn on one node, may say missed too.
		if args := cmd.Args(); len(args) > 3 {
			if k, _ := args[3].(string); strings.HasSuffix(k, "}:s") {
				return false
			}
		}
		return slices.Contains(cmd.Args(), any(string(handoff.StatusMissed)))
	}
	return false
}

func (h *missCut) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *missCut) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.hits(cmd) {
			h.failed.Add(1)
			cmd.SetErr(errCut)
			return errCut
		}
		return next(ctx, cmd)
	}
}

func (h *missCut) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestSweepMarksAMissedChatATurnLeft: the handoff's wait runs out and the
// offline path runs, but marking the chat missed hits a Redis error (as
// when the process dies between the two). The turn stays marked pending,
// and the sweep marks the chat missed: it leaves the team's queue for the
// Missed folder instead of sitting there with its session ended (issue
// 11, item 17).
func TestSweepMarksAMissedChatATurnLeft(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	clk := newClock()
	cut := &missCut{}
	rdb := redis.NewClient(rds.Client.Options())
	rdb.AddHook(cut)
	t.Cleanup(func() { rdb.Close() })
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) {
		c.Engine = redisstore.NewEngine(rdb, c.Prefix)
		c.Now = clk.now
		c.RecoverAfter = 500 * time.Millisecond
	})
	sam := addAgent(t, ts, "Sam", "sales")
	signIn(t, ts, sam).ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")

	cut.cut.Store(true)
	clk.advance(2*time.Minute + time.Second)
	v.bot("Our team is offline, we will email you")
	v.entryOf("end", "system")
	waitLong(t, "marking the chat missed to fail", func() bool { return cut.failed.Load() > 0 })
	if c, err := ts.srv.App().Inbox().Conversation(ctx, conv); err != nil || c.Status != handoff.StatusOpen {
		t.Fatalf("with the mark failing the chat is %v (%v), want still open in the queue", c, err)
	}
	cut.cut.Store(false)     // Redis is back; the process that ran the turn gave up
	clk.advance(time.Second) // the turn's mark is older than RecoverAfter on the server's clock

	st := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix})
	waitLong(t, "the sweep to mark the chat missed and clear the turn's mark", func() bool {
		c, err := ts.srv.App().Inbox().Conversation(ctx, conv)
		n, _ := st.PendingCount(ctx)
		return err == nil && c.Status == handoff.StatusMissed && n == 0
	})
	if l, _ := ts.srv.App().Inbox().List(ctx, sam, handoff.FolderUnassigned, 10); len(l) != 0 {
		t.Fatalf("the missed chat is still queued: %v", l)
	}
	if l, _ := ts.srv.App().Inbox().List(ctx, sam, handoff.FolderMissed, 10); len(l) != 1 || l[0].ID != conv {
		t.Fatalf("the missed chat is not in Missed: %v", l)
	}
	// The entry that made the turn's work durable is for the agents only.
	entries, _ := ts.srv.App().Sessions().Transcript(ctx, conv, "", 0)
	if !slices.ContainsFunc(entries, func(e redisstore.Entry) bool { return e.Kind == "missed" }) {
		t.Fatal("the transcript holds no missed entry")
	}
	v.send(map[string]any{"type": "ping"})
	for _, e := range entriesOf(v.through("pong")) {
		if e["kind"] == "missed" {
			t.Fatalf("the visitor was sent the internal missed entry: %+v", e)
		}
	}
}

// TestSweepRecordsTheTeamThatWasAway: the conversation's inbox record is
// lost (as when Redis failed at its start), so the turn whose handoff
// found sales away cannot record the team; its mark stays, and the sweep
// writes the inbox record with the team (queued nowhere), then clears
// the mark.
func TestSweepRecordsTheTeamThatWasAway(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, copyPlaybooks(t), func(c *servertest.Config) {
		c.RecoverAfter = 500 * time.Millisecond
	})
	ctx := context.Background()
	c := dial(t, ts)
	_, conv := c.start("website-sales")
	c.bot("Hi there! What brings you here?")
	eventually(t, "the conversation's inbox record", func() bool {
		_, err := ts.srv.App().Inbox().Conversation(ctx, conv)
		return err == nil
	})
	if err := rds.Client.Del(ctx, rds.Prefix+"{c:"+conv+"}:meta").Err(); err != nil {
		t.Fatal(err)
	}
	c.send(map[string]any{"type": "button", "id": "w1", "value": "Talk to sales", "label": "Talk to sales"})
	c.next("ack")
	c.bot("What's your work email?")
	for i, s := range []struct{ say, bot string }{
		{"ana@acme.io", "How many people work at your company?"},
		{"51-200", "What's your monthly budget in USD?"},
		{"3000", "When would you like to get started? (a date like 2026-03-01)"},
		{"2030-01-15", "Our team is away right now. We'll email ana@acme.io within one business day."},
	} {
		c.say(fmt.Sprintf("w%d", i+3), s.say)
		c.bot(s.bot)
	}
	st := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix})
	eventually(t, "the sweep to record the team and clear the mark", func() bool {
		n, _ := st.PendingCount(ctx)
		m, err := ts.srv.App().Inbox().Conversation(ctx, conv)
		return n == 0 && err == nil && m.Team == "sales"
	})
	m, _ := ts.srv.App().Inbox().Conversation(ctx, conv)
	if m.Status != handoff.StatusBot || m.Assignee != "" {
		t.Fatalf("the away chat after the sweep: %+v", m)
	}
	// Which of the two ran first, the turn's own write (it fails on the
	// missing record and logs so) or the sweep (on a slow machine it can
	// pass the 500 ms before the turn's work runs, and then the turn's
	// write finds the record), depends on load; either way one of them
	// left a line in the log.
	if log := ts.log.String(); !strings.Contains(log, "recording the team that was away") &&
		!strings.Contains(log, "finished the work of a turn a failure had left") {
		t.Error("neither the failed write nor the sweep's repair was logged")
	}
}
