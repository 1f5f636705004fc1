package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// runSoak is `playbook bench --soak`: resilient visitors talk for a long
// time while the server is killed (SIGKILL) and started again on the same
// port every --restart-every. Every finished conversation is checked
// against the reference and against the store; at the end the CRM must
// hold one lead per conversation whose transcript has a record, and no
// turn may be left marked pending.
//
// On Redis (--redis, or a throwaway redis-server) the store is read
// directly while the server runs. With --embedded the server is started
// with --data on the same data directory every time; the directory is
// locked by the process that serves it, so the conversations are checked
// against the store after the last stop (every one, as strictly), and the
// pending marks are read from the server's /debug/vars while it runs.
func runSoak(ctx context.Context, std *stdio, o *benchOptions) (err error) {
	note := func(format string, args ...any) { fmt.Fprintf(std.err, "soak: "+format+"\n", args...) }
	if o.embedded && o.redisURL != "" {
		return usageError("--embedded and --redis exclude each other")
	}
	dir, done, err := benchWorkDir("playbook-soak-", o.keepLogs, note)
	if err != nil {
		return err
	}
	defer func() { done(err) }()

	books, exe, err := benchPlaybook(dir)
	if err != nil {
		return err
	}
	port, err := bench.FreePort()
	if err != nil {
		return err
	}
	args := []string{"--addr", "127.0.0.1:" + strconv.Itoa(port), "--playbooks", books, "--pprof", "127.0.0.1:0",
		"--simulate-presence", "bench", "--connects-per-minute", "-1", "--idle-ttl", "1h"}

	// The store: Redis is read while the server runs (eng), the embedded
	// data directory only once the server has stopped.
	var (
		rdb     *redis.Client
		eng     store.Engine
		dataDir string
		engName string
	)
	if o.embedded {
		dataDir = filepath.Join(dir, "data")
		args = append(args, "--data", dataDir)
		engName = "the embedded store (--data, the same directory after every restart)"
	} else {
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
		rdb = redis.NewClient(opt)
		defer rdb.Close()
		prefix := "pbsoak" + randomHex(4) + ":"
		args = append(args, "--prefix", prefix, "--redis", redisURL)
		eng = redisstore.NewEngine(rdb, prefix)
		engName = "Redis at " + redisURL
	}
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
	var downtimes []time.Duration // from each kill to the next process's /readyz 200
	born := time.Now()
	killed, kill := "killed (SIGKILL)", "kill"
	if o.graceful {
		killed, kill = "stopped (SIGTERM, drained)", "SIGTERM"
	}

	note("%d visitors for %v on %s, the server %s and restarted every %v", o.visitors, o.duration, engName, killed, o.restartEvery)
	var verify func(ctx context.Context, sc bench.Script, conv string, got []bench.Entry) error
	if eng != nil {
		st := eng.Sessions(store.SessionOptions{})
		verify = func(ctx context.Context, sc bench.Script, conv string, got []bench.Entry) error {
			return bench.VerifyTranscript(ctx, st, conv, got, bench.RecordsOf(sc))
		}
	}
	res, err := bench.Soak(ctx, bench.SoakOptions{
		URLs: []string{srv.URL}, Visitors: o.visitors, Think: o.think, Duration: o.duration, Sources: o.sources,
		Every: o.restartEvery,
		Break: func(ctx context.Context, n int) error {
			rss, _, _ := bench.ProcRSS(srv.PID)
			anon, file, _ := bench.ProcRSSParts(srv.PID)
			lifetimes = append(lifetimes, fmt.Sprintf("pid %d lived %v, RSS %.1f MB when %s (anon %.1f MB, file %.1f MB)",
				srv.PID, time.Since(born).Round(time.Second), float64(rss)/1e6, killed, float64(anon)/1e6, float64(file)/1e6))
			at := time.Now()
			if o.graceful {
				if err := srv.Terminate(time.Minute); err != nil {
					return err
				}
				note("restart %d: pid %d drained and exited 0 in %v", n, srv.PID, time.Since(at).Round(time.Millisecond))
			} else {
				srv.Kill()
				note("restart %d: killed pid %d (SIGKILL)", n, srv.PID)
			}
			next, err := start()
			if err != nil {
				return err
			}
			down := time.Since(at)
			downtimes = append(downtimes, down)
			note("restart %d: pid %d ready %v after the %s", n, next.PID, down.Round(time.Millisecond), kill)
			srvMu.Lock()
			srv, born = next, time.Now()
			srvMu.Unlock()
			return nil
		},
		Verify: verify,
		Keep:   verify == nil,
		Sample: func(ctx context.Context) bench.SoakSample {
			s := bench.SoakSample{At: time.Now(), ServerPID: current().PID}
			s.ServerRSS, _, _ = bench.ProcRSS(s.ServerPID)
			s.ServerAnon, s.ServerFile, _ = bench.ProcRSSParts(s.ServerPID)
			if rdb != nil {
				if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
					for _, line := range strings.Split(info, "\n") {
						if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
							s.RedisBytes, _ = strconv.ParseInt(v, 10, 64)
						}
					}
				}
			} else {
				s.DataBytes = dirSize(dataDir)
			}
			return s
		},
	})
	if err != nil {
		return err
	}

	// Every record a transcript holds must be in the CRM, once: the ones
	// a killed process left undone are made by the pending sweep (marks
	// older than 30 s, swept every 5 s). The sweep gets its time (the
	// server still runs; it says how many marks are left in /debug/vars),
	// then the server stops so that nothing changes while counting:
	// handed-off chats nobody answers go on to their offline path (a
	// lead) when their wait runs out.
	pendingAfterRun := int64(-1)
	waited, werr := bench.WaitUntil(ctx, 2*time.Minute, func(ctx context.Context) (bool, error) {
		n, err := serverPending(ctx, current().DebugURL)
		if pendingAfterRun < 0 && err == nil {
			pendingAfterRun = n
		}
		return err == nil && n == 0, err
	})
	if werr != nil {
		note("waiting for the pending marks to be swept: %v", werr)
	} else {
		note("%d pending marks after the run, none left after %v", pendingAfterRun, waited.Round(time.Millisecond))
	}
	if err := current().Stop(15 * time.Second); err != nil {
		note("stopping the server: %v", err)
	}
	if eng == nil {
		// The server has stopped: its data directory is free.
		db, err := embedded.Open(dataDir, embedded.Options{SweepEvery: -1})
		if err != nil {
			return fmt.Errorf("opening the data directory after the run: %w", err)
		}
		defer db.Close()
		eng = embedded.NewEngine(db)
		note("checking the %d finished conversations against the data directory", len(res.Finished))
		res.VerifyFinished(ctx, eng.Sessions(store.SessionOptions{}))
	}
	st := eng.Sessions(store.SessionOptions{})
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
	ce := eng.CRM()
	cs := crm.New(ce, ce, crm.Options{})
	n, err := cs.Count(ctx, crm.KindLead)
	if err != nil {
		return err
	}
	leads := int(n)
	pending, err := st.PendingCount(ctx)
	if err != nil {
		return err
	}
	redone := sweptInLogs(dir)
	var dataBytes int64
	if dataDir != "" {
		dataBytes = dirSize(dataDir)
	}

	if o.json {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"soak": res, "store": engName, "leads_in_transcripts": want, "leads_in_crm": leads,
			"pending_after_run": pendingAfterRun, "pending_wait_ns": waited, "pending_left": pending, "pending_redone": redone, "restart_ready_ns": downtimes, "graceful": o.graceful,
			"data_bytes": dataBytes, "server_lifetimes": lifetimes}); err != nil {
			return err
		}
		return soakVerdict(res, leads, want, pending)
	}
	w := std.out
	fmt.Fprintf(w, "playbook bench --soak: %d visitors, %v, the server %s and restarted every %v\n", o.visitors, o.duration, killed, o.restartEvery)
	fmt.Fprintf(w, "  store          %s\n", engName)
	checked := "checked (reference and store)"
	if res.Verified > 0 {
		checked = fmt.Sprintf("checked (reference during the run, store after the last stop: %d)", res.Verified)
	}
	if res.AfterLeaving > 0 {
		checked += fmt.Sprintf(", %d handoffs then went offline (their wait ran out after the visitor left)", res.AfterLeaving)
	}
	fmt.Fprintf(w, "  conversations  %d completed and %s: %v\n", res.Conversations, checked, res.ByOutcome)
	fmt.Fprintf(w, "  turns          %d; latency p50 %v p95 %v p99 %v max %v (reconnects included)\n", res.Turns, res.Latency.P50, res.Latency.P95, res.Latency.P99, res.Latency.Max)
	fmt.Fprintf(w, "  errors         %d (a message lost, doubled or different, or the store disagreeing)\n", res.Errors)
	for _, e := range res.ErrorSamples {
		fmt.Fprintf(w, "                 %s\n", e)
	}
	fmt.Fprintf(w, "  unfinished     %d (cut by the end of the run)\n", res.Unfinished)
	fmt.Fprintf(w, "  restarts       %d %v", res.Breaks, res.BreakErrors)
	if len(downtimes) > 0 {
		lo, hi := slices.Min(downtimes), slices.Max(downtimes)
		fmt.Fprintf(w, "; the next process ready %v to %v after each %s", lo.Round(time.Millisecond), hi.Round(time.Millisecond), kill)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  visitors saw   %d reconnects (%d after a 1012 close), %d resends (%d already stored), %d unavailable, %d entries redelivered and ignored, %d conversations begun again before their welcome\n",
		res.Stats.Reconnects, res.Stats.Drained, res.Stats.Resends, res.Stats.Duplicates, res.Stats.Unavailable, res.Stats.Redelivered, res.Stats.Restarted)
	fmt.Fprintf(w, "  leads          %d in the CRM for %d record entries in the transcripts; %d pending marks left\n", leads, want, pending)
	if werr == nil {
		fmt.Fprintf(w, "  pending sweep  %d turns' work left by a kill and redone by the next process; %d marks when the visitors stopped, 0 after %v\n", redone, pendingAfterRun, waited.Round(100*time.Millisecond))
	} else {
		fmt.Fprintf(w, "  pending sweep  %d turns' work left by a kill and redone by the next process; %d marks when the visitors stopped; %v\n", redone, pendingAfterRun, werr)
	}
	if dataDir != "" {
		fmt.Fprintf(w, "  data directory %.1f MB after the run\n", float64(dataBytes)/1e6)
		fmt.Fprintf(w, "  memory         (time, server pid, server RSS = anon + mapped files, data directory, conversations done)\n")
	} else {
		fmt.Fprintf(w, "  memory         (time, server pid, server RSS = anon + mapped files, Redis used_memory, conversations done)\n")
	}
	for _, s := range res.Samples {
		used := s.RedisBytes
		if dataDir != "" {
			used = s.DataBytes
		}
		parts := "(killed meanwhile)" // the sample fell on a kill
		if s.ServerAnon+s.ServerFile > 0 {
			parts = fmt.Sprintf("= %5.1f + %5.1f", float64(s.ServerAnon)/1e6, float64(s.ServerFile)/1e6)
		}
		fmt.Fprintf(w, "                 %s  pid %-7d %6.1f MB %s  %7.1f MB  %d\n", s.At.Format("15:04:05"), s.ServerPID,
			float64(s.ServerRSS)/1e6, parts, float64(used)/1e6, s.Done)
	}
	for _, l := range lifetimes {
		fmt.Fprintf(w, "  server         %s\n", l)
	}
	return soakVerdict(res, leads, want, pending)
}

// soakVerdict fails a soak with an error, a lead too many or too few, or a
// pending mark left.
func soakVerdict(res bench.SoakResult, leads, want int, pending int64) error {
	if res.Errors > 0 || leads != want || pending != 0 {
		return failf("%d errors, %d leads for %d records, %d pending marks left", res.Errors, leads, want, pending)
	}
	return nil
}

// serverPending reads how many pending marks a server's store holds from
// its /debug/vars ("pending_marks").
func serverPending(ctx context.Context, debugURL string) (int64, error) {
	if debugURL == "" {
		return 0, errors.New("the server has no debug listener (--pprof)")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", debugURL+"/debug/vars", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("/debug/vars: %s", resp.Status)
	}
	var vars struct {
		Pending *int64 `json:"pending_marks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		return 0, fmt.Errorf("/debug/vars: %w", err)
	}
	if vars.Pending == nil {
		return 0, errors.New("/debug/vars has no pending_marks")
	}
	if *vars.Pending < 0 {
		return 0, errors.New("the server could not count its pending marks")
	}
	return *vars.Pending, nil
}

// dirSize is the size of the files under dir (0 when it cannot be read).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if info, err := d.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
		return nil
	})
	return n
}

// sweptInLogs counts, in the serve logs of a soak's folder, the turns
// whose work the pending sweep finished ("finished the work of a turn a
// failure had left"): work a killed process left undone.
func sweptInLogs(dir string) int {
	logs, _ := filepath.Glob(filepath.Join(dir, "serve-*.log"))
	n := 0
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err == nil {
			n += bytes.Count(b, []byte("finished the work of a turn a failure had left"))
		}
	}
	return n
}
