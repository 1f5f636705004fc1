package redis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// BenchmarkCRMLead is a lead's create as the reference conversation makes
// it (BENCH.md: a new visitor's work email at a new domain, so a new
// organization, person and lead, with the chat for the person's feed and
// the inbox's record message), through crm.Store.Create on one Redis node:
// its read, then its change. Against the Redis of PLAYBOOK_REDIS_URL
// (skipped on miniredis, whose costs say nothing of Redis's), it reports
// redis-server's time in commands per lead (INFO commandstats: usec, every
// command, the scripts' own commands inside their EVALSHA's) and the
// commands Redis ran per lead, besides this process's CPU per lead.
func BenchmarkCRMLead(b *testing.B) {
	srv := redistest.New(b)
	if !redistest.Real() {
		b.Skip("needs a real Redis (PLAYBOOK_REDIS_URL)")
	}
	ctx := context.Background()
	c := redisstore.NewCRM(srv.Client, srv.Prefix)
	lead := benchLead(c, srv.Prefix, strconv.FormatInt(time.Now().UnixNano(), 36))
	if err := lead(ctx, -1); err != nil { // the scripts loaded
		b.Fatal(err)
	}
	before := commandStats(b, srv.Client)
	cpu := processCPU()
	i := 0
	for b.Loop() {
		if err := lead(ctx, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-cpu).Microseconds())/float64(b.N), "cpu-µs/lead")
	after := commandStats(b, srv.Client)
	var usec, calls float64
	for k, v := range after {
		if k == "info" {
			continue
		}
		usec += v[1] - before[k][1]
		calls += v[0] - before[k][0]
	}
	b.ReportMetric(usec/float64(b.N), "redis-µs/lead")
	b.ReportMetric(calls/float64(b.N), "redis-cmds/lead")
}

// commandStats is INFO commandstats: each command's calls and usec.
func commandStats(b *testing.B, rdb goredis.UniversalClient) map[string][2]float64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string][2]float64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		cmd, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		var v [2]float64
		for _, kv := range strings.Split(rest, ",") {
			k, val, _ := strings.Cut(kv, "=")
			f, _ := strconv.ParseFloat(val, 64)
			switch k {
			case "calls":
				v[0] = f
			case "usec":
				v[1] = f
			}
		}
		out[cmd] = v
	}
	return out
}

// benchLead returns the create of BenchmarkCRMLead's i-th lead on c: a
// new visitor's work email at a new domain (conversation run-i), so a new
// organization, person and lead, the chat for the person's feed and the
// inbox's record message, through crm.Store.Create (its read, then its
// change).
func benchLead(c *redisstore.CRM, prefix, run string) func(ctx context.Context, i int) error {
	st := crm.New(c, c, crm.Options{ChangedMessage: func(rs []*crm.Record, _ []byte) (store.Message, bool) {
		return store.Message{Channel: prefix + "inbox", Payload: `{"type":"record","records":` + strconv.Itoa(len(rs)) + `}`}, true
	}})
	started := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	return func(ctx context.Context, i int) error {
		conv := run + "-" + strconv.Itoa(i)
		n := strconv.Itoa(i)
		email := "visitor" + n + "@acme" + n + ".com"
		rec := engine.Record{Kind: "lead", Key: conv + ":6:offline:0", Fields: map[string]any{
			"title":  email,
			"person": map[string]any{"email": email},
			"custom": map[string]any{"budget": 15000, "size": "51-200", "timeline": "this quarter"},
		}}
		src := crm.Source{Conversation: conv, Visitor: crm.Contact{Email: email}, BotName: "Ava", Playbook: "qualify",
			Chat: &crm.Chat{Conversation: conv, Playbook: "qualify", StartedAt: started, FirstMessage: "Talk to sales", Outcome: "lead"}}
		_, err := st.Create(ctx, src, rec)
		return err
	}
}
