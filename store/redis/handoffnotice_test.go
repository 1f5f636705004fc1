package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestHandOffPublishesItsNoticeInItsStep: on one node a handoff's new-chat
// notice (store.HandoffNotice), built before the step from the records as
// read with the turn, goes out in the step, with the record exactly as the
// step left it; when the record changed since it was read, or the step
// refuses (a resolved chat), nothing goes out and NoticeSent is false.
func TestHandOffPublishesItsNoticeInItsStep(t *testing.T) {
	srv := redistest.New(t)
	rdb := goredis.NewClient(srv.Client.Options())
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	prefix := srv.Prefix
	inbox := redisstore.NewInbox(rdb, prefix)
	if !inbox.PublishesOn(redisstore.NewBus(rdb)) {
		t.Fatal("one node: the inbox should publish notices on a Bus of its client")
	}
	channel := prefix + "notices"
	sub := rdb.Subscribe(ctx, channel)
	t.Cleanup(func() { sub.Close() })
	if _, err := sub.Receive(ctx); err != nil { // subscribed
		t.Fatal(err)
	}
	next := func() string {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second) // a hang guard
		defer cancel()
		m, err := sub.ReceiveMessage(rctx)
		if err != nil {
			t.Fatal(err)
		}
		return m.Payload
	}
	// nothing: the next message is one the test sends now.
	nothing := func() {
		t.Helper()
		if err := rdb.Publish(ctx, channel, "sentinel").Err(); err != nil {
			t.Fatal(err)
		}
		if m := next(); m != "sentinel" {
			t.Fatalf("published %s, want nothing", m)
		}
	}
	at := time.UnixMilli(1_700_000_000_000)
	start := func(id string) {
		t.Helper()
		c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "p", Labels: []string{"x"}, Previous: []string{"old"},
			Visitor: store.Visitor{ID: "v1", Page: "/a"}, StartedAt: at, UpdatedAt: at}
		if err := inbox.Start(ctx, c, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	start("old")
	if _, _, err := inbox.HandOff(ctx, "old", store.Handoff{Team: "sales"}, at, time.Hour); err != nil {
		t.Fatal(err)
	}
	read := func(id string) (map[string]string, [][3]string) {
		t.Helper()
		f, err := rdb.HGetAll(ctx, prefix+"{c:"+id+"}:meta").Result()
		if err != nil || len(f) == 0 {
			t.Fatal(f, err)
		}
		v, err := rdb.HMGet(ctx, prefix+"{c:old}:meta", "status", "team", "assignee").Result()
		if err != nil {
			t.Fatal(err)
		}
		var p [3]string
		for i := range 3 {
			p[i], _ = v[i].(string)
		}
		return f, [][3]string{p}
	}
	handoff := func(id string, fields map[string]string, prev [][3]string) (*store.Conversation, string, error) {
		var built string
		h := store.Handoff{Team: "support", Priority: "high", Card: "ask", Visitor: store.Visitor{Name: "Ann", Page: "/b"},
			Last: &store.Last{From: "bot", Text: "one moment", At: at}, Previous: []string{"old"},
			Notice: &store.HandoffNotice{Channel: channel, Before: fields, Previous: prev, Build: func(c *store.Conversation) (string, error) {
				b, err := json.Marshal(struct {
					C    *store.Conversation
					Prev []store.PreviousChat
				}{c, c.PreviousRead})
				built = string(b)
				return built, err
			}}}
		c, _, err := inbox.HandOff(ctx, id, h, at.Add(time.Second), time.Hour)
		return c, built, err
	}

	t.Run("sent", func(t *testing.T) {
		start("c1")
		f, p := read("c1")
		c, built, err := handoff("c1", f, p)
		if err != nil {
			t.Fatal(err)
		}
		if !c.NoticeSent {
			t.Fatal("notice not sent in the step")
		}
		if m := next(); m != built {
			t.Fatalf("published %s, want %s", m, built)
		}
		want, _ := json.Marshal(struct {
			C    *store.Conversation
			Prev []store.PreviousChat
		}{c, c.PreviousRead})
		if built != string(want) {
			t.Fatalf("notice %s, the record after the step %s", built, want)
		}
		if c.Visitor != (store.Visitor{ID: "v1", Name: "Ann", Page: "/b"}) || len(c.PreviousRead) != 1 || c.PreviousRead[0].Team != "sales" {
			t.Fatalf("record %+v", c)
		}
	})
	t.Run("changed", func(t *testing.T) {
		start("c2")
		f, p := read("c2")
		if err := inbox.SetVisitor(ctx, "c2", store.Visitor{ID: "v1", Email: "a@b.c"}); err != nil {
			t.Fatal(err)
		}
		c, _, err := handoff("c2", f, p)
		if err != nil {
			t.Fatal(err)
		}
		if c.NoticeSent {
			t.Fatal("notice sent for a record changed since it was read")
		}
		nothing()
	})
	// A value grown by a byte, and a field swapped for another of the same
	// count: the script walks the caller's fields against the record's.
	t.Run("value grown", func(t *testing.T) {
		start("c5")
		f, p := read("c5")
		if err := rdb.HSet(ctx, prefix+"{c:c5}:meta", "playbook", f["playbook"]+"x").Err(); err != nil {
			t.Fatal(err)
		}
		c, _, err := handoff("c5", f, p)
		if err != nil {
			t.Fatal(err)
		}
		if c.NoticeSent {
			t.Fatal("notice sent for a value grown since it was read")
		}
		nothing()
	})
	t.Run("value shrunk", func(t *testing.T) {
		start("c6")
		f, p := read("c6")
		v := f["playbook"]
		if err := rdb.HSet(ctx, prefix+"{c:c6}:meta", "playbook", v[:len(v)-1]).Err(); err != nil {
			t.Fatal(err)
		}
		c, _, err := handoff("c6", f, p)
		if err != nil {
			t.Fatal(err)
		}
		if c.NoticeSent {
			t.Fatal("notice sent for a value shrunk since it was read")
		}
		nothing()
	})
	t.Run("field swapped", func(t *testing.T) {
		start("c7")
		f, p := read("c7")
		key := prefix + "{c:c7}:meta"
		if err := rdb.HDel(ctx, key, "playbook").Err(); err != nil {
			t.Fatal(err)
		}
		if err := rdb.HSet(ctx, key, "zz", f["playbook"]).Err(); err != nil {
			t.Fatal(err)
		}
		c, _, err := handoff("c7", f, p)
		if err != nil {
			t.Fatal(err)
		}
		if c.NoticeSent {
			t.Fatal("notice sent for a record whose fields changed since it was read")
		}
		nothing()
	})
	t.Run("previous changed", func(t *testing.T) {
		start("c3")
		f, p := read("c3")
		if err := rdb.HSet(ctx, prefix+"{c:old}:meta", "assignee", "someone").Err(); err != nil {
			t.Fatal(err)
		}
		c, _, err := handoff("c3", f, p)
		if err != nil {
			t.Fatal(err)
		}
		if c.NoticeSent {
			t.Fatal("notice sent with an earlier chat changed since it was read")
		}
		nothing()
	})
	t.Run("refused", func(t *testing.T) {
		start("c4")
		if _, _, err := inbox.Resolve(ctx, "c4", at); err != nil {
			t.Fatal(err)
		}
		f, p := read("c4")
		if _, _, err := handoff("c4", f, p); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("err %v, want ErrClosed", err)
		}
		nothing()
	})
}
