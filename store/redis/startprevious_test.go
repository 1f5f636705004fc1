package redis_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// TestReturningStartReadsNoEarlierConversations (issue 13, tenth round):
// on one Redis node the start of a returning visitor whose earlier
// conversations this process knows (it started the last one) does not
// read them back into the turn script: the start sends the record's
// previous as it knows it, with the size the visitor's list had then,
// and the script checks the size and the newest with one command (ZRANGE
// of the ranks N-1 to N: one id, the newest, when the list has N; the
// eleventh round's cut, where the tenth ran ZCARD and ZREVRANGE 0 0)
// before it writes the record as sent: no ZREVRANGE of all twenty, one
// id made into a Lua string instead of twenty, and none in the reply.
// When the list moved (another process, an older one included, started
// a conversation of the visitor; or the list expired) the script reads
// it as before, and the record is right either way.
func TestReturningStartReadsNoEarlierConversations(t *testing.T) {
	srv := redistest.New(t)
	srv.NeedsReal(t, "MONITOR")
	ctx := context.Background()
	p := srv.Prefix
	c := goredis.NewClient(srv.Client.Options())
	t.Cleanup(func() { c.Close() })
	replies := &replyRecorder{}
	c.AddHook(replies)
	st := redisstore.NewEngine(c, p).Sessions(store.SessionOptions{TTL: time.Hour}).(*redisstore.Store)
	// other: another process (its own engine, its own cache) that starts
	// conversations as Inbox.Start does, as an older process does.
	other := redisstore.NewInbox(srv.Client, p)
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1", Name: "Ada", Page: "/pricing"}
	visKey := p + "visitor:v1:convs"
	record := func(id string, at time.Time) *store.Conversation {
		return &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: at, UpdatedAt: at}
	}
	n := 0
	// start starts a conversation of the visitor in this process and
	// returns its record, the commands its script ran on the visitor's
	// list and the script's reply.
	start := func() (*store.Conversation, []string, []any) {
		t.Helper()
		n++
		id := "c" + strconv.Itoa(n)
		conv := record(id, t0.Add(time.Duration(n)*time.Second))
		mon := startMonitor(t, srv.Client.Options().Addr, p)
		if _, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}, storetest.CountedFold(key, "started"), time.Hour, conv, time.Hour); err != nil {
			t.Fatal(err)
		}
		end := p + "end"
		if err := srv.Client.Get(ctx, end).Err(); err != nil && err != goredis.Nil {
			t.Fatal(err)
		}
		var ran []string
		for _, cmd := range mon.untilFrom(t, "GET", end) {
			if cmd.from == "lua" && len(cmd.args) > 1 && cmd.args[1] == visKey {
				ran = append(ran, strings.TrimSpace(strings.ToUpper(cmd.args[0])+" "+strings.Join(cmd.args[2:], " ")))
			}
		}
		stored, err := other.Conversation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(stored.Previous, conv.Previous) {
			t.Errorf("%s: the stored record names %v, CreateStarted returned %v", id, stored.Previous, conv.Previous)
		}
		want, err := srv.Client.ZRevRange(ctx, visKey, 1, store.MaxPrevious).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			want = nil
		}
		if !slices.Equal(conv.Previous, want) {
			t.Errorf("%s: Previous %v, want %v", id, conv.Previous, want)
		}
		return conv, ran, replies.last()
	}
	read := "ZREVRANGE 0 " + strconv.Itoa(store.MaxPrevious-1)
	// ZADD and PEXPIRE: the start's time (ms) and the retention (ms).
	// The list had size before the start: its ranks size-1 to size.
	known := func(id string) []string {
		n, _ := strconv.Atoi(strings.TrimPrefix(id, "c"))
		size := srv.Client.ZCard(ctx, visKey).Val() - 1
		return []string{fmt.Sprintf("ZRANGE %d %d", size-1, size), "ZADD " + stampOf(t0.Add(time.Duration(n)*time.Second)) + " " + id, "PEXPIRE 3600000"}
	}
	// The visitor's first conversation, by the other process: this one
	// does not know it and reads the list.
	if err := other.Start(ctx, record("c0", t0), time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, ran, _ := start(); !slices.Contains(ran, read) {
		t.Errorf("a visitor this process has not seen: the script ran %v, want a ZREVRANGE", ran)
	}
	// Known now: no read, up to and past store.MaxPrevious.
	for range store.MaxPrevious + 2 {
		conv, ran, reply := start()
		if want := known(conv.ID); !slices.Equal(ran, want) {
			t.Errorf("%s, a returning visitor this process knows: the script ran %q on the visitor's list, want %q", conv.ID, ran, want)
		}
		if s, ok := reply[len(reply)-1].(string); ok {
			t.Errorf("%s: the script replied with the earlier conversations (%q), which the process sent", conv.ID, s)
		}
	}
	// Another process starts one: this one's next start reads the list
	// and names it.
	if err := other.Start(ctx, record("x1", t0.Add(time.Hour)), time.Hour); err != nil {
		t.Fatal(err)
	}
	n += 3600
	conv, ran, _ := start()
	if !slices.Contains(ran, read) || len(conv.Previous) == 0 || conv.Previous[0] != "x1" {
		t.Errorf("after another process's start: the script ran %v, Previous %v, want a read that names x1 first", ran, conv.Previous)
	}
	// And the one after is known again.
	if conv, ran, _ := start(); !slices.Equal(ran, known(conv.ID)) {
		t.Errorf("after the read: the script ran %q, want %q", ran, known(conv.ID))
	}
	// The list expired (its retention passed): not taken for the one
	// known before, though its size is the same again.
	had := srv.Client.ZCard(ctx, visKey).Val()
	if err := srv.Client.Del(ctx, visKey).Err(); err != nil {
		t.Fatal(err)
	}
	size := 0
	for range had {
		size++
		if err := other.Start(ctx, record("y"+strconv.Itoa(size), t0.Add(2*time.Hour+time.Duration(size)*time.Second)), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	n += 7200
	if conv, ran, _ := start(); !slices.Contains(ran, read) || conv.Previous[0] != "y"+strconv.Itoa(size) {
		t.Errorf("after the list expired: the script ran %v, Previous %v", ran, conv.Previous)
	}
}

// TestConcurrentStartsOfOneVisitor: starts of one visitor that run at
// once in one process (each guessing from the same knowledge) and in
// another each name exactly the conversations whose starts Redis ran
// before theirs (at most store.MaxPrevious, newest first): the records
// form one history.
func TestConcurrentStartsOfOneVisitor(t *testing.T) {
	srv := redistest.New(t)
	ctx := context.Background()
	p := srv.Prefix
	eng := redisstore.NewEngine(srv.Client, p)
	st := eng.Sessions(store.SessionOptions{TTL: time.Hour}).(*redisstore.Store)
	other := redisstore.NewInbox(srv.Client, p)
	t0 := time.UnixMilli(1800000000123).UTC()
	vis := store.Visitor{ID: "v1"}
	record := func(id string, at time.Time) *store.Conversation {
		return &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Visitor: vis, Labels: []string{}, StartedAt: at, UpdatedAt: at}
	}
	var mu sync.Mutex
	at := map[string]time.Time{}
	var wg sync.WaitGroup
	const each = 6
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("g%dc%d", g, i)
				when := t0.Add(time.Duration(g*each+i) * time.Second)
				mu.Lock()
				at[id] = when
				mu.Unlock()
				c := record(id, when)
				var err error
				if g == 2 {
					err = other.Start(ctx, c, time.Hour)
				} else {
					_, err = st.CreateStarted(ctx, &engine.Session{ID: id}, nil, nil, time.Hour, c, time.Hour)
				}
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	// Each record names the ones started before it: ordered by how many
	// each names, the k-th names the k-1 before it, by score.
	byCount := map[int]string{}
	prev := map[string][]string{}
	for id := range at {
		c, err := other.Conversation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		prev[id] = c.Previous
		if o, dup := byCount[len(c.Previous)]; dup {
			t.Fatalf("%s and %s both name %d earlier conversations: %v and %v", id, o, len(c.Previous), c.Previous, prev[o])
		}
		byCount[len(c.Previous)] = id
	}
	for k := 1; k < len(at); k++ {
		id, before := byCount[k], byCount[k-1]
		if id == "" || before == "" {
			t.Fatalf("no record names %d (or %d) earlier conversations: %v", k, k-1, prev)
		}
		want := append(slices.Clone(prev[before]), before)
		slices.SortFunc(want, func(a, b string) int { return at[b].Compare(at[a]) })
		if !slices.Equal(prev[id], want) {
			t.Errorf("%s names %v, want %v (the start Redis ran before it: %s)", id, prev[id], want, before)
		}
	}
}

// replyRecorder keeps the reply of the last EVALSHA its client sent.
type replyRecorder struct {
	mu    sync.Mutex
	reply []any
}

func (r *replyRecorder) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r *replyRecorder) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if c, ok := cmd.(*goredis.Cmd); ok && cmd.Name() == "evalsha" {
			if s, ok := c.Val().([]any); ok {
				r.mu.Lock()
				r.reply = slices.Clone(s)
				r.mu.Unlock()
			}
		}
		return err
	}
}
func (r *replyRecorder) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

func (r *replyRecorder) last() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reply
}
