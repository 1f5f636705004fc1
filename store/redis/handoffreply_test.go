package redis_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// evalRecorder keeps the arguments and the reply of each EVALSHA and EVAL
// a client runs.
type evalRecorder struct {
	mu    sync.Mutex
	args  [][]any
	reply []any
}

func (r *evalRecorder) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r *evalRecorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}
func (r *evalRecorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if name := strings.ToLower(cmd.Name()); name == "evalsha" || name == "eval" {
			if c, ok := cmd.(*goredis.Cmd); ok && err == nil {
				r.mu.Lock()
				r.args = append(r.args, c.Args())
				r.reply = append(r.reply, c.Val())
				r.mu.Unlock()
			}
		}
		return err
	}
}

// TestHandOffStepReplyAndArguments (issue 13, fourteenth round): the
// bench's handoff on one node (a bot's first, the wait timer and the
// new-chat notice, a team with no routing set and no waits, no earlier
// chats) sends its step 1 key and 16 arguments (the prefix is made from
// the record's key; the visitor as the step writes it is not sent when
// it is the caller's visitor argument), each about 1.3 k Redis
// instructions, and the step's reply holds no empty array: an empty table in
// a script's reply costs Redis about 3 k instructions of checks (callgrind,
// 200 bench-shaped handoffs), and the reply had four (the record the
// notice stands in for, the routing, the waits, the earlier chats). It
// failed first with 18 arguments and 4 empty arrays.
func TestHandOffStepReplyAndArguments(t *testing.T) {
	rds := redistest.New(t)
	rds.NeedsReal(t, "Lua's replies as Redis makes them")
	ctx := context.Background()
	rdb := goredis.NewClient(rds.Client.Options())
	t.Cleanup(func() { rdb.Close() })
	rec := &evalRecorder{}
	rdb.AddHook(rec)
	p := rds.Prefix
	inbox := redisstore.NewInbox(rdb, p)
	at := time.UnixMilli(1_700_000_000_000)
	id := "bench-1"
	c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "qualify", Labels: []string{},
		Visitor: store.Visitor{ID: "v-" + id, Page: "/bench"}, StartedAt: at, UpdatedAt: at}
	if err := inbox.Start(ctx, c, time.Hour); err != nil {
		t.Fatal(err)
	}
	before, err := rdb.HGetAll(ctx, p+"{c:"+id+"}:meta").Result()
	if err != nil {
		t.Fatal(err)
	}
	build := func(c *store.Conversation) (string, error) {
		j, err := json.Marshal(map[string]any{"type": "notify", "kind": "new_chat", "conversation": c})
		return string(j), err
	}
	h := store.Handoff{Team: "sales", Card: "sales", Visitor: store.Visitor{ID: "v-" + id, Email: "visitor@acme.com", Page: "/bench"},
		Last:   &store.Last{From: "bot", Text: "Connecting you to sales...", At: at},
		Timers: []store.Timer{{ID: id + ":6:sales:0", At: at.Add(2 * time.Minute)}},
		Notice: &store.HandoffNotice{Channel: p + "inbox", Before: before, Build: build}}
	got, tc, err := inbox.HandOff(ctx, id, h, at.Add(time.Second), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !got.NoticeSent || got.QueuePosition != 1 || tc.Routing != store.Manual || tc.Waits == nil || len(*tc.Waits) != 0 {
		t.Fatalf("handed off %+v, %+v", got, tc)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.args) == 0 {
		t.Fatal("no script ran")
	}
	args, reply := rec.args[len(rec.args)-1], rec.reply[len(rec.reply)-1]
	// evalsha, the hash, the key count, the key, then the arguments.
	if n := len(args) - 4; n != 16 {
		t.Errorf("the step has %d arguments, want 16", n)
	}
	empty := 0
	var walk func(v any)
	walk = func(v any) {
		if a, ok := v.([]any); ok {
			if len(a) == 0 {
				empty++
			}
			for _, e := range a {
				walk(e)
			}
		}
	}
	walk(reply)
	if empty != 0 {
		t.Errorf("the step's reply holds %d empty arrays, want none: %v", empty, reply)
	}
}
