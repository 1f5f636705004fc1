package server_test

import (
	"context"
	"errors"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// outboxCut fails every write to the webhook outbox (XADD, or a script
// given its key) while cut is set, as Redis does during a failover.
// It also counts the events added to the outbox, by type.
type outboxCut struct {
	key   string // the start of every outbox shard's stream key
	cut   atomic.Bool
	mu    sync.Mutex
	added map[string]int
}

// count notes an event the outbox took: an XADD, or a script that
// reports it added one (1).
func (h *outboxCut) count(cmd redis.Cmder) {
	name := strings.ToLower(cmd.Name())
	if cmd.Err() != nil || (name != "xadd" && name != "eval" && name != "evalsha") || !slices.ContainsFunc(cmd.Args(), h.isOutbox) {
		return
	}
	if c, ok := cmd.(*redis.Cmd); ok && name != "xadd" {
		if n, err := c.Int(); err != nil || n != 1 {
			return
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, a := range cmd.Args() {
		if s, ok := a.(string); ok && strings.HasPrefix(s, "conversation.") {
			h.added[s]++
		}
	}
}

func (h *outboxCut) addedOf(typ string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.added[typ]
}

func (h *outboxCut) hits(cmd redis.Cmder) bool {
	if !h.cut.Load() {
		return false
	}
	switch strings.ToLower(cmd.Name()) {
	case "xadd", "eval", "evalsha":
		return slices.ContainsFunc(cmd.Args(), h.isOutbox)
	}
	return false
}

// isOutbox reports whether a command argument is an outbox shard's stream.
func (h *outboxCut) isOutbox(a any) bool {
	s, ok := a.(string)
	return ok && strings.HasPrefix(s, h.key) && strings.HasSuffix(s, ":stream")
}

var errCut = errors.New("READONLY You can't write against a read only replica (the test cut the outbox)")

func (h *outboxCut) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return next(ctx, network, addr) }
}

func (h *outboxCut) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.hits(cmd) {
			cmd.SetErr(errCut)
			return errCut
		}
		err := next(ctx, cmd)
		h.count(cmd)
		return err
	}
}

func (h *outboxCut) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			if h.hits(c) {
				for _, c := range cmds {
					c.SetErr(errCut)
				}
				return errCut
			}
		}
		err := next(ctx, cmds)
		for _, c := range cmds {
			h.count(c)
		}
		return err
	}
}

// TestConversationEventsSurviveARedisError: conversation.started and
// conversation.handed_off hit a Redis error when they are emitted (a
// failover). They are not lost: the turns stay marked, the sweep emits
// them once Redis is back, and each reaches the webhook exactly once
// although the sweep redoes the conversation's work once per mark.
func TestConversationEventsSurviveARedisError(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	cut := &outboxCut{key: rds.Prefix + "{ob:", added: map[string]int{}}
	rdb := redis.NewClient(rds.Client.Options())
	rdb.AddHook(cut)
	t.Cleanup(func() { rdb.Close() })
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) {
		c.Engine = redisstore.NewEngine(rdb, c.Prefix)
		c.RecoverAfter = time.Second
		fastWebhooks(c)
	})
	hooks, hookURL := newHookReceiver(t, "a-secret-of-some-length")
	events := []string{crm.EventConversationStarted, crm.EventConversationHandoff}
	if _, err := ts.srv.Service().CRM().AddSubscription(ctx, hookURL, events, "a-secret-of-some-length"); err != nil {
		t.Fatal(err)
	}
	agent := signIn(t, ts, addAgent(t, ts, "Sam", "sales"))
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})

	cut.cut.Store(true)
	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	v.entryOf("handoff", "system")
	waitLong(t, "both emits to fail", func() bool {
		log := ts.log.String()
		return strings.Contains(log, "type="+crm.EventConversationStarted) && strings.Contains(log, "type="+crm.EventConversationHandoff)
	})
	cut.cut.Store(false) // Redis is back
	st := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix})

	waitLong(t, "the sweep to emit both events and clear the marks", func() bool {
		n, _ := st.PendingCount(ctx)
		return n == 0 && hooks.count(crm.EventConversationStarted) == 1 && hooks.count(crm.EventConversationHandoff) == 1
	})
	// Exactly once at the source: the outbox took one event of each
	// type, although each mark's redo emitted them all again.
	if st, ho := cut.addedOf(crm.EventConversationStarted), cut.addedOf(crm.EventConversationHandoff); st != 1 || ho != 1 {
		t.Fatalf("the outbox took %d conversation.started and %d conversation.handed_off, want 1 each", st, ho)
	}
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	for _, ev := range hooks.events {
		if !strings.Contains(ev.ID, conv) {
			t.Errorf("event %s %s is not named after conversation %s", ev.Type, ev.ID, conv)
		}
	}
}

// waitLong polls cond for up to 30 s (a guard against hangs on a busy
// machine, not a timing assumption).
func waitLong(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
