package bench_test

import (
	"bytes"
	"context"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/servertest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

func TestScriptMix(t *testing.T) {
	turns := map[string]int{}
	outcomes := map[string]int{}
	for n := range 100 {
		sc := bench.ScriptFor(n)
		if sc.Turns[0].Type != "start" {
			t.Fatalf("conversation %d does not open with start", n)
		}
		turns[sc.Outcome] += len(sc.Turns)
		outcomes[sc.Outcome]++
	}
	want := map[string]int{bench.OutcomeHandoff: 30, bench.OutcomeLead: 30, bench.OutcomeNurture: 20, bench.OutcomeBrowsing: 20}
	for o, n := range want {
		if outcomes[o] != n {
			t.Errorf("%s: %d of 100 conversations, want %d", o, outcomes[o], n)
		}
	}
	// 6 turns when qualified, 5 for nurture, 2 for browsing (BENCH.md).
	if turns[bench.OutcomeHandoff] != 180 || turns[bench.OutcomeLead] != 180 || turns[bench.OutcomeNurture] != 100 || turns[bench.OutcomeBrowsing] != 40 {
		t.Errorf("turns by outcome %v", turns)
	}
	sc := bench.ScriptFor(13)
	if got := sc.Turns[2].Text; got != "not an email 13" {
		t.Errorf("invalid email %q", got)
	}
	if got := sc.Turns[3].Text; got != "visitor13@acme13.com" {
		t.Errorf("email %q", got)
	}
	if got := bench.ScriptFor(200).Turns[3].Text; got != "visitor200@acme6.com" {
		t.Errorf("email of 200: %q", got)
	}
}

// startServer serves qualify (or the given source) in this process, with
// the bench's simulated presence.
func startServer(t *testing.T, src []byte) (string, *redistest.Server) {
	t.Helper()
	rds := redistest.New(t)
	return startServerOn(t, src, rds, rds.Client), rds
}

// startServerOn is startServer on a given Redis client of rds.
func startServerOn(t *testing.T, src []byte, rds *redistest.Server, rdb *redis.Client) string {
	t.Helper()
	return serve(t, src, redisstore.NewEngine(rdb, rds.Prefix), rds.Prefix)
}

// serve serves src as qualify on engine, with the bench's simulated
// presence, and returns its URL.
func serve(t *testing.T, src []byte, engine store.Engine, prefix string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qualify.yaml"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	srv, err := servertest.New(servertest.Config{Engine: engine,
		Options: conversation.Options{Playbooks: dir, Prefix: prefix,
			Presence: bench.SimulatedPresence{}, RecoverAfter: 2 * time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Config: server.Config{ConnectsPerMinute: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		cancel()
		<-done
	})
	servertest.AwaitListening(t, srv)
	return hs.URL
}

func TestRunChecksEveryConversation(t *testing.T) {
	url, _ := startServer(t, playbooks.BenchQualify)
	var samples int
	res, err := bench.Run(context.Background(), bench.Options{
		URLs: []string{url}, Visitors: 4, Conversations: 20, Sources: 2,
		Sample: func(context.Context) bench.Sample { samples++; return bench.Sample{At: time.Now()} },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("%d errors: %v", res.Errors, res.ErrorSamples)
	}
	want := map[string]int{bench.OutcomeHandoff: 6, bench.OutcomeLead: 6, bench.OutcomeNurture: 4, bench.OutcomeBrowsing: 4}
	for o, n := range want {
		if res.ByOutcome[o] != n {
			t.Errorf("%s: %d conversations, want %d (all: %v)", o, res.ByOutcome[o], n, res.ByOutcome)
		}
	}
	// 20 conversations of the mix: 12 of 6 turns, 4 of 5, 4 of 2.
	if res.Conversations != 20 || res.Turns != 100 {
		t.Errorf("%d conversations and %d turns, want 20 and 100", res.Conversations, res.Turns)
	}
	if res.Latency.P50 <= 0 || res.Latency.Max < res.Latency.P99 || samples != 2 {
		t.Errorf("latency %+v, %d samples", res.Latency, samples)
	}
}

func TestRunReportsWrongReplies(t *testing.T) {
	reworded := bytes.Replace(playbooks.BenchQualify, []byte("Enjoy! Ping us anytime."), []byte("Enjoy!"), 1)
	url, _ := startServer(t, reworded)
	res, err := bench.Run(context.Background(), bench.Options{URLs: []string{url}, Visitors: 2, Conversations: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Conversations 8 and 9 are the browsing ones.
	if res.Errors != 2 || res.Conversations != 8 || len(res.ErrorSamples) != 2 {
		t.Fatalf("%d errors (%v), %d conversations; want 2 errors, 8 conversations", res.Errors, res.ErrorSamples, res.Conversations)
	}
	if !strings.Contains(res.ErrorSamples[0], `bot said "Enjoy!", want "Enjoy! Ping us anytime."`) {
		t.Errorf("error %q", res.ErrorSamples[0])
	}
}

func TestIdleAndCeiling(t *testing.T) {
	url, rds := startServer(t, playbooks.BenchQualify)
	ctx := context.Background()
	idle, err := bench.Idle(ctx, bench.IdleOptions{URLs: []string{url}, Connections: 5, Settle: time.Millisecond, Hold: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if idle.Connections != 5 || idle.Errors != 0 {
		t.Fatalf("idle: %d connections, %d errors %v", idle.Connections, idle.Errors, idle.ErrorSamples)
	}
	// Widgets that chat (two turns past the greeting, every answer
	// checked), then hold.
	idle, err = bench.Idle(ctx, bench.IdleOptions{URLs: []string{url}, Connections: 5, Turns: 2, Settle: time.Millisecond, Hold: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if idle.Connections != 5 || idle.Errors != 0 {
		t.Fatalf("idle after two turns: %d connections, %d errors %v", idle.Connections, idle.Errors, idle.ErrorSamples)
	}
	c, err := bench.Ceiling(ctx, bench.CeilingOptions{Redis: rds.Client, Prefix: rds.Prefix + "ceiling:", Workers: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors != 0 {
		t.Fatalf("ceiling: %d errors: %s", c.Errors, c.FirstError)
	}
	// The ceiling removes its conversations.
	if keys, err := rds.Client.Keys(ctx, rds.Prefix+"ceiling:*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("ceiling left %d keys (%v)", len(keys), err)
	}
}

func TestSimulatedPresence(t *testing.T) {
	// Even bench visitors find every team online; odd ones and others don't.
	for _, tt := range []struct {
		id   string
		want int
	}{{"bench-4", 1}, {"bench-7", 0}, {"ana", 0}, {"bench-x", 0}} {
		sess := bench.CeilingSession("c", time.Now())
		sess.Visitor.ID = tt.id
		got, _ := bench.SimulatedPresence{}.Online(context.Background(), sess, []string{"sales", "support"})
		if got["sales"] != tt.want || got["support"] != tt.want {
			t.Errorf("%s: %v, want %d each", tt.id, got, tt.want)
		}
	}
}

// TestRunChecksHandoffsAreQueued: the bench checks every handoff in the
// inbox through the servers' inbox API (CheckQueuedAPI), not only the
// replies. With queueing broken underneath (the server's writes to the
// team queues land in another key, as when the cluster's cross-slot
// transaction failed and the record said open while the lists stayed
// empty) every reply is still right, and only the inbox check sees that no
// agent would ever get the chats.
func TestRunChecksHandoffsAreQueued(t *testing.T) {
	ctx := context.Background()
	t.Run("queued", func(t *testing.T) {
		url, rds := startServer(t, playbooks.BenchQualify)
		res, err := bench.Run(ctx, bench.Options{URLs: []string{url}, Visitors: 4, Conversations: 20,
			QueueCheck: apiCheck(t, redisstore.NewInbox(rds.Client, rds.Prefix), rds.Prefix, url)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Errors != 0 || res.Handoffs != 6 || res.Queued != 6 {
			t.Fatalf("%d errors %v, %d handoffs, %d queued; want 0 errors, 6 handoffs, 6 queued", res.Errors, res.ErrorSamples, res.Handoffs, res.Queued)
		}
	})
	t.Run("queueing broken", func(t *testing.T) {
		rds := redistest.New(t)
		broken := redis.NewClient(rds.Client.Options())
		t.Cleanup(func() { broken.Close() })
		broken.AddHook(loseQueueWrites{})
		url := startServerOn(t, playbooks.BenchQualify, rds, broken)
		res, err := bench.Run(ctx, bench.Options{URLs: []string{url}, Visitors: 4, Conversations: 20,
			QueueCheck: apiCheck(t, redisstore.NewInbox(rds.Client, rds.Prefix), rds.Prefix, url), QueueWait: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if res.Conversations != 20 || res.Handoffs != 6 {
			t.Fatalf("%d conversations, %d handoffs (errors %v); want every reply right: 20 and 6", res.Conversations, res.Handoffs, res.ErrorSamples)
		}
		if res.Errors != 6 || res.Queued != 0 {
			t.Fatalf("%d errors, %d queued; want the 6 handoffs found missing from the queue: %v", res.Errors, res.Queued, res.ErrorSamples)
		}
		if !strings.Contains(res.ErrorSamples[0], "not in its Unassigned queue") {
			t.Errorf("error %q", res.ErrorSamples[0])
		}
	})
}

// The same check runs on the embedded engine, which the bench cannot read
// from outside the server: through the inbox API.
func TestRunChecksHandoffsAreQueuedOnTheEmbeddedEngine(t *testing.T) {
	ctx := context.Background()
	db, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	url := serve(t, playbooks.BenchQualify, embedded.NewEngine(db), "pb:")
	res, err := bench.Run(ctx, bench.Options{URLs: []string{url}, Visitors: 4, Conversations: 20,
		QueueCheck: apiCheck(t, embedded.NewInbox(db), "pb:", url)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Handoffs != 6 || res.Queued != 6 {
		t.Fatalf("%d errors %v, %d handoffs, %d queued; want 0 errors, 6 handoffs, 6 queued", res.Errors, res.ErrorSamples, res.Handoffs, res.Queued)
	}
}

type queueCheck = func(ctx context.Context, ids []string, wait time.Duration) (int, []error)

// apiCheck adds the inbox check's agent to inbox and checks through the
// API of the server at url.
func apiCheck(t *testing.T, inbox store.InboxEngine, prefix, url string) queueCheck {
	t.Helper()
	a, err := bench.AddInboxAgent(context.Background(), inbox, prefix, "sales", url)
	if err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context, ids []string, wait time.Duration) (int, []error) {
		return bench.CheckQueuedAPI(ctx, a, ids, wait)
	}
}

// loseQueueWrites sends what a server writes to or reads of a team's
// Unassigned queue (…}:queue) to another key of the same slot instead (a
// handoff's script on one node: the team's keys under another prefix).
type loseQueueWrites struct{}

func (loseQueueWrites) DialHook(next redis.DialHook) redis.DialHook { return next }

func (loseQueueWrites) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		redirectQueue(cmd)
		return next(ctx, cmd)
	}
}

func (loseQueueWrites) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			redirectQueue(c)
		}
		return next(ctx, cmds)
	}
}

func redirectQueue(cmd redis.Cmder) {
	args := cmd.Args()
	switch cmd.Name() {
	case "zadd", "zrank":
		if k, ok := args[1].(string); ok && strings.HasSuffix(k, "}:queue") {
			args[1] = k + "-lost"
		}
	case "evalsha", "eval":
		// A handoff on one node is one script (Inbox.HandOff) on the
		// record's key, which puts the chat, its eighth argument, in the
		// team's lists: EVALSHA sha 1 {c:ID}:meta arg... The lists get
		// another member instead (the id in capitals, as long, so the
		// script still finds the prefix from the key's length). The
		// script's string arguments go by pointer (store/redis's
		// handOffArgs).
		n, _ := args[2].(int)
		if n != 1 || len(args) < 3+n+8 {
			return
		}
		k, _ := args[3].(string)
		id, _ := args[3+n+7].(string)
		if ps, ok := args[3+n+7].(*string); ok {
			id = *ps
		}
		if id != "" && strings.HasSuffix(k, "{c:"+id+"}:meta") {
			args[3+n+7] = strings.ToUpper(id)
		}
	}
}
