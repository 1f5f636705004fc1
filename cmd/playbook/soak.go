package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/internal/bench"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// runSoak is `playbook bench --soak`: resilient visitors talk for a long
// time while the server is killed (SIGKILL) and started again on the same
// port every --restart-every. Every finished conversation is checked
// against the reference and against the store; at the end the CRM must
// hold one lead per conversation whose transcript has a record.
func runSoak(ctx context.Context, std *stdio, o *benchOptions) (err error) {
	note := func(format string, args ...any) { fmt.Fprintf(std.err, "soak: "+format+"\n", args...) }
	dir, done, err := benchWorkDir("playbook-soak-", o.keepLogs, note)
	if err != nil {
		return err
	}
	defer func() { done(err) }()
	redisURL := o.redisURL
	if redisURL == "" {
		note("starting redis-server")
		rs, err := bench.StartRedis(ctx, dir)
		if err != nil {
			return err
		}
		defer rs.Stop(5 * time.Second)
		redisURL = rs.URL
	}
	if err := loopbackURL(redisURL); err != nil {
		return usageError("--redis: %v", err)
	}
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return usageError("--redis: %v", err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	prefix := "pbsoak" + randomHex(4) + ":"

	books, exe, err := benchPlaybook(dir)
	if err != nil {
		return err
	}
	port, err := bench.FreePort()
	if err != nil {
		return err
	}
	args := []string{"--addr", "127.0.0.1:" + strconv.Itoa(port), "--playbooks", books, "--prefix", prefix,
		"--simulate-presence", "bench", "--connects-per-minute", "-1", "--idle-ttl", "1h", "--redis", redisURL}
	args = append(args, strings.Fields(o.serverFlags)...)
	starts := 0
	start := func() (*bench.Server, error) {
		starts++
		return bench.StartServer(ctx, exe, args, filepath.Join(dir, fmt.Sprintf("serve-%d.log", starts)))
	}
	srv, err := start()
	if err != nil {
		return err
	}
	// Break replaces srv while Sample reads it, from other goroutines.
	var srvMu sync.Mutex
	current := func() *bench.Server { srvMu.Lock(); defer srvMu.Unlock(); return srv }
	defer func() { current().Stop(15 * time.Second) }()
	var lifetimes []string
	born := time.Now()

	note("%d visitors for %v, the server killed and restarted every %v", o.visitors, o.duration, o.restartEvery)
	st := redisstore.New(rdb, redisstore.Options{Prefix: prefix})
	res, err := bench.Soak(ctx, bench.SoakOptions{
		URLs: []string{srv.URL}, Visitors: o.visitors, Think: o.think, Duration: o.duration, Sources: o.sources,
		Every: o.restartEvery,
		Break: func(ctx context.Context, n int) error {
			rss, _, _ := bench.ProcRSS(srv.PID)
			lifetimes = append(lifetimes, fmt.Sprintf("pid %d lived %v, RSS %.1f MB when killed", srv.PID, time.Since(born).Round(time.Second), float64(rss)/1e6))
			srv.Kill()
			note("restart %d: killed pid %d (SIGKILL)", n, srv.PID)
			next, err := start()
			if err != nil {
				return err
			}
			srvMu.Lock()
			srv, born = next, time.Now()
			srvMu.Unlock()
			return nil
		},
		Verify: func(ctx context.Context, sc bench.Script, conv string, got []bench.Entry) error {
			return bench.VerifyTranscript(ctx, st, conv, got, bench.RecordsOf(sc))
		},
		Sample: func(ctx context.Context) bench.SoakSample {
			s := bench.SoakSample{At: time.Now(), ServerPID: current().PID}
			s.ServerRSS, _, _ = bench.ProcRSS(s.ServerPID)
			if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
				for _, line := range strings.Split(info, "\n") {
					if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
						s.RedisBytes, _ = strconv.ParseInt(v, 10, 64)
					}
				}
			}
			return s
		},
	})
	if err != nil {
		return err
	}

	// Every record a transcript holds must be in the CRM, once: the ones
	// a killed process left undone are made by the pending sweep. The
	// sweep gets its time (the server still runs), then the server stops
	// so that nothing changes while counting: handed-off chats nobody
	// answers go on to their offline path (a lead) when their wait runs
	// out.
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(time.Second) {
		if n, err := st.PendingCount(ctx); err == nil && n == 0 {
			break
		}
	}
	if err := current().Stop(15 * time.Second); err != nil {
		note("stopping the server: %v", err)
	}
	want := 0
	for _, conv := range res.Started {
		es, err := st.Transcript(ctx, conv, "", 0)
		if err != nil {
			return err
		}
		for _, e := range es {
			if e.Kind == "record" {
				want++
			}
		}
	}
	ce := redisstore.NewCRM(rdb, prefix)
	cs := crm.New(ce, ce, crm.Options{})
	n, err := cs.Count(ctx, crm.KindLead)
	if err != nil {
		return err
	}
	leads := int(n)
	pending, _ := st.PendingCount(ctx)

	if o.json {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"soak": res, "leads_in_transcripts": want, "leads_in_crm": leads, "pending_left": pending, "server_lifetimes": lifetimes})
	}
	w := std.out
	fmt.Fprintf(w, "playbook bench --soak: %d visitors, %v, the server killed (SIGKILL) and restarted every %v\n", o.visitors, o.duration, o.restartEvery)
	fmt.Fprintf(w, "  conversations  %d completed and checked (reference and store): %v\n", res.Conversations, res.ByOutcome)
	fmt.Fprintf(w, "  turns          %d; latency p50 %v p95 %v p99 %v max %v (reconnects included)\n", res.Turns, res.Latency.P50, res.Latency.P95, res.Latency.P99, res.Latency.Max)
	fmt.Fprintf(w, "  errors         %d (a message lost, doubled or different, or the store disagreeing)\n", res.Errors)
	for _, e := range res.ErrorSamples {
		fmt.Fprintf(w, "                 %s\n", e)
	}
	fmt.Fprintf(w, "  unfinished     %d (cut by the end of the run)\n", res.Unfinished)
	fmt.Fprintf(w, "  restarts       %d %v\n", res.Breaks, res.BreakErrors)
	fmt.Fprintf(w, "  visitors saw   %d reconnects, %d resends (%d already stored), %d unavailable, %d entries redelivered and ignored, %d conversations begun again before their welcome\n",
		res.Stats.Reconnects, res.Stats.Resends, res.Stats.Duplicates, res.Stats.Unavailable, res.Stats.Redelivered, res.Stats.Restarted)
	fmt.Fprintf(w, "  leads          %d in the CRM for %d record entries in the transcripts; %d pending marks left\n", leads, want, pending)
	fmt.Fprintf(w, "  memory         (time, server pid, server RSS, Redis used_memory, conversations done)\n")
	for _, s := range res.Samples {
		fmt.Fprintf(w, "                 %s  pid %-7d %6.1f MB  %7.1f MB  %d\n", s.At.Format("15:04:05"), s.ServerPID, float64(s.ServerRSS)/1e6, float64(s.RedisBytes)/1e6, s.Done)
	}
	for _, l := range lifetimes {
		fmt.Fprintf(w, "  server         %s\n", l)
	}
	if res.Errors > 0 || leads != want {
		return failf("%d errors, %d leads for %d records", res.Errors, leads, want)
	}
	return nil
}
