package redis_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// BenchmarkHandOffRedis is the bench mix's handoff on one node: a bot's
// first handoff with the visitor's email, the bot's last message, the
// wait timer and the new-chat notice (built from the record as read with
// the turn), each of a chat started before the timer. Besides time and
// allocations it reports the Redis commands (INFO commandstats, scripts'
// own included) and redis-server's CPU (used_cpu_user + used_cpu_sys) per
// handoff; run it against a private redis-server (PLAYBOOK_REDIS_URL).
func BenchmarkHandOffRedis(b *testing.B) {
	srv := redistest.New(b)
	if srv.Mini != nil {
		b.Skip("needs a real redis-server")
	}
	ctx := context.Background()
	rdb := goredis.NewClient(srv.Client.Options())
	b.Cleanup(func() { rdb.Close() })
	inbox := redisstore.NewInbox(rdb, srv.Prefix)
	at := time.Now()
	ids := make([]string, b.N)
	before := make([]map[string]string, b.N)
	for i := range ids {
		ids[i] = "bench-" + strconv.Itoa(i)
		c := &store.Conversation{ID: ids[i], Status: store.StatusBot, Playbook: "qualify", Labels: []string{},
			Visitor: store.Visitor{ID: "bench-" + strconv.Itoa(i), Page: "/bench"}, StartedAt: at, UpdatedAt: at}
		if err := inbox.Start(ctx, c, time.Hour); err != nil {
			b.Fatal(err)
		}
		f, err := rdb.HGetAll(ctx, srv.Prefix+"{c:"+ids[i]+"}:meta").Result()
		if err != nil {
			b.Fatal(err)
		}
		before[i] = f
	}
	build := func(c *store.Conversation) (string, error) {
		j, err := json.Marshal(map[string]any{"type": "notify", "kind": "new_chat", "conversation": c})
		return string(j), err
	}
	cmds0, cpu0 := redisCounts(b, srv.Client)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h := store.Handoff{Team: "sales", Card: "sales", Visitor: store.Visitor{ID: ids[i], Email: "visitor@acme.com", Page: "/bench"},
			Last:   &store.Last{From: "bot", Text: "Connecting you to sales...", At: at},
			Timers: []store.Timer{{ID: ids[i] + ":6:sales:0", At: at.Add(2 * time.Minute)}},
			Notice: &store.HandoffNotice{Channel: srv.Prefix + "inbox", Before: before[i], Build: build}}
		c, _, err := inbox.HandOff(ctx, ids[i], h, at, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if !c.NoticeSent {
			b.Fatal("the notice did not go out in the step")
		}
	}
	b.StopTimer()
	cmds1, cpu1 := redisCounts(b, srv.Client)
	b.ReportMetric(float64(cmds1-cmds0-2)/float64(b.N), "redis-cmds/op") // less the INFO commands
	b.ReportMetric((cpu1-cpu0)*1e6/float64(b.N), "redis-µs/op")
}

// redisCounts returns the commands Redis ran so far and its CPU seconds.
func redisCounts(b *testing.B, rdb *goredis.Client) (int64, float64) {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats", "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var cmds int64
	var cpu float64
	for _, line := range strings.Split(info, "\r\n") {
		switch {
		case strings.HasPrefix(line, "cmdstat_"):
			if _, rest, ok := strings.Cut(line, "calls="); ok {
				n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
				cmds += n
			}
		case strings.HasPrefix(line, "used_cpu_user:"), strings.HasPrefix(line, "used_cpu_sys:"):
			v, _ := strconv.ParseFloat(line[strings.IndexByte(line, ':')+1:], 64)
			cpu += v
		}
	}
	return cmds, cpu
}
