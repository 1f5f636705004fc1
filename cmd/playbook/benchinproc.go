package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/gctune"
)

// The in-process idle run (--idle N --in-process): serve's own code (the
// serve command, its flags, store, middleware and visitor websocket
// handler) in one process with N idle widgets on in-memory connections,
// alternated with a control run of the same clients against a handler
// that only upgrades and answers the start frame (bench.HoldHandler). Each
// run is a child process (playbook bench --in-process-child serve|control
// ... -- SERVE FLAGS), so that each starts from a fresh heap; the child
// prints its bench.InProcessResult as JSON.

// inProcessRun is one child's run.
type inProcessRun struct {
	Kind   string                `json:"kind"` // serve or control
	Round  int                   `json:"round"`
	Result bench.InProcessResult `json:"result"`
}

// inProcessReport is what --in-process prints with --json.
type inProcessReport struct {
	Connections int            `json:"connections"`
	Store       string         `json:"store"`
	GOMEMLIMIT  string         `json:"gomemlimit,omitempty"`
	Runs        []inProcessRun `json:"runs"`
	// ServePerWidget is, per round, serve's RSS growth per connection
	// minus the control's of the same round (bytes).
	ServePerWidget []float64 `json:"serve_rss_per_widget_bytes"`
}

func runInProcess(ctx context.Context, std *stdio, o *benchOptions) (err error) {
	switch {
	case o.idle <= 0:
		return usageError("--in-process measures idle widgets: give --idle N")
	case o.idleTurns != 0:
		return usageError("--idle-turns needs real sockets: not with --in-process")
	case o.url != "" || o.servers > 1 || o.reference || o.compare != "":
		return usageError("--in-process runs serve inside the bench: no --url, --servers, --reference or --compare")
	case o.embedded && o.redisURL != "":
		return usageError("--embedded and --redis exclude each other")
	case o.runs < 1:
		return usageError("--runs must be at least 1")
	}
	note := func(format string, args ...any) { fmt.Fprintf(std.err, "bench: "+format+"\n", args...) }
	dir, done, err := benchWorkDir("playbook-bench-", o.keepLogs, note)
	if err != nil {
		return err
	}
	defer func() { done(err) }()
	books, exe, err := benchPlaybook(dir)
	if err != nil {
		return err
	}
	rep := inProcessReport{Connections: o.idle, GOMEMLIMIT: os.Getenv("GOMEMLIMIT")}
	redisURL := o.redisURL
	switch {
	case o.embedded:
		rep.Store = "serve's embedded store (a fresh data directory each run)"
	case redisURL == "":
		note("starting redis-server")
		rs, err := bench.StartRedis(ctx, dir)
		if err != nil {
			return err
		}
		defer rs.Stop(5 * time.Second)
		redisURL = rs.URL
		rep.Store = fmt.Sprintf("redis-server %s at %s, started by the bench (no persistence)", rs.Version, rs.URL)
	default:
		if err := loopbackURL(redisURL); err != nil {
			return usageError("--redis: %v", err)
		}
		rep.Store = "Redis at " + redisURL
	}
	for round := 1; round <= o.runs; round++ {
		for _, kind := range []string{"control", "serve"} {
			serveArgs := []string{"--playbooks", books, "--prefix", "pbbench" + randomHex(4) + ":", "--simulate-presence", "bench",
				"--connects-per-minute", "-1", "--idle-ttl", "1h", "--default-playbook", "qualify"}
			if o.embedded {
				serveArgs = append(serveArgs, "--data", filepath.Join(dir, fmt.Sprintf("data-%d", round)))
			} else {
				serveArgs = append(serveArgs, "--redis", redisURL)
			}
			serveArgs = append(serveArgs, strings.Fields(o.serverFlags)...)
			args := []string{"bench", "--in-process-child", kind, "--idle", strconv.Itoa(o.idle), "--hold", o.hold.String(),
				"--turn-timeout", o.turnTimeout.String(), "--sources", strconv.Itoa(o.sources)}
			if o.heapProfile != "" && kind == "serve" {
				args = append(args, "--server-heap", fmt.Sprintf("%s.%d", o.heapProfile, round))
			}
			args = append(append(args, "--"), serveArgs...)
			note("round %d of %d: %s, %d idle widgets in one process", round, o.runs, kind, o.idle)
			logFile := filepath.Join(dir, fmt.Sprintf("%s-%d.log", kind, round))
			res, err := runInProcessChild(ctx, exe, args, logFile)
			if err != nil {
				return err
			}
			rep.Runs = append(rep.Runs, inProcessRun{Kind: kind, Round: round, Result: res})
		}
	}
	errs := 0
	for i := 0; i+1 < len(rep.Runs); i += 2 {
		c, s := rep.Runs[i].Result, rep.Runs[i+1].Result
		rep.ServePerWidget = append(rep.ServePerWidget, perConn(s.Connected.RSS-s.Before.RSS, s.Connections)-perConn(c.Connected.RSS-c.Before.RSS, c.Connections))
	}
	for _, r := range rep.Runs {
		errs += r.Result.Errors + int(r.Result.Closed)
	}
	if o.json {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.writeText(std.out)
	}
	if errs > 0 {
		return failf("%d errors or connections closed by the server", errs)
	}
	return nil
}

func perConn(b int64, n int) float64 {
	if n == 0 {
		return 0
	}
	return float64(b) / float64(n)
}

func (rep *inProcessReport) writeText(w io.Writer) {
	mb := func(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }
	kb := func(b float64) string { return fmt.Sprintf("%.1f KB", b/1e3) }
	fmt.Fprintf(w, "%d idle widgets in one process, in-memory connections; store: %s", rep.Connections, rep.Store)
	if rep.GOMEMLIMIT != "" {
		fmt.Fprintf(w, "; GOMEMLIMIT=%s (the whole process: serve and the clients)", rep.GOMEMLIMIT)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run\tconnected\terrors\topened in\tgreeting p50/p99\tRSS before -> connected -> after hold (peak)\tper widget: RSS\theap in use\theap allocated\tstacks\tlive after GC\tgoroutines\tpings answered\tclosed by server")
	for _, r := range rep.Runs {
		x := r.Result
		n := x.Connections
		fmt.Fprintf(tw, "%s %d\t%d\t%d\t%.1fs\t%v/%v\t%s -> %s -> %s (%s)\t%s\t%s\t%s\t%s\t%s\t%d -> %d\t%d\t%d\n",
			r.Kind, r.Round, n, x.Errors, x.OpenTime.Seconds(), x.Start.P50.Round(time.Microsecond*100), x.Start.P99.Round(time.Millisecond),
			mb(x.Before.RSS), mb(x.Connected.RSS), mb(x.After.RSS), mb(x.After.PeakRSS),
			kb(perConn(x.Connected.RSS-x.Before.RSS, n)), kb(perConn(x.Connected.HeapInuse-x.Before.HeapInuse, n)),
			kb(perConn(x.Connected.HeapAlloc-x.Before.HeapAlloc, n)), kb(perConn(x.Connected.StackInuse-x.Before.StackInuse, n)),
			kb(perConn(x.LiveHeap-x.Before.HeapAlloc, n)), x.Before.Goroutines, x.Connected.Goroutines, x.Pings, x.Closed)
	}
	tw.Flush()
	for _, r := range rep.Runs {
		for _, e := range r.Result.ErrorSamples {
			fmt.Fprintf(w, "  %s %d: %s\n", r.Kind, r.Round, e)
		}
	}
	if len(rep.ServePerWidget) == 0 {
		return
	}
	s := slices.Clone(rep.ServePerWidget)
	slices.Sort(s)
	var serveBase int64
	for _, r := range rep.Runs {
		if r.Kind == "serve" {
			serveBase = r.Result.Before.RSS
		}
	}
	fmt.Fprintf(w, "serve's RSS per idle widget (serve's growth minus the control's, each round): %s to %s\n", kb(s[0]), kb(s[len(s)-1]))
	var live, stacks []float64
	for i := 0; i+1 < len(rep.Runs); i += 2 {
		c, x := rep.Runs[i].Result, rep.Runs[i+1].Result
		live = append(live, perConn(x.LiveHeap-x.Before.HeapAlloc, x.Connections)-perConn(c.LiveHeap-c.Before.HeapAlloc, c.Connections))
		stacks = append(stacks, perConn(x.Connected.StackInuse-x.Before.StackInuse, x.Connections)-perConn(c.Connected.StackInuse-c.Before.StackInuse, c.Connections))
	}
	slices.Sort(live)
	slices.Sort(stacks)
	fmt.Fprintf(w, "Go's view of it: %s to %s of live heap (after a collection), %s to %s of stacks\n", kb(live[0]), kb(live[len(live)-1]), kb(stacks[0]), kb(stacks[len(stacks)-1]))
	fmt.Fprintf(w, "serve alone with %d idle widgets (its RSS before plus that many times the above): %s to %s; a TCP socket adds its netFD and poller entry (and kernel memory outside RSS), not counted here\n",
		rep.Connections, mb(serveBase+int64(s[0]*float64(rep.Connections))), mb(serveBase+int64(s[len(s)-1]*float64(rep.Connections))))
}

// runInProcessChild runs one child and decodes what it printed.
func runInProcessChild(ctx context.Context, exe string, args []string, logFile string) (bench.InProcessResult, error) {
	var res bench.InProcessResult
	lf, err := os.Create(logFile)
	if err != nil {
		return res, err
	}
	defer lf.Close()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, exe, args...)
	cmd.Stdout, cmd.Stderr = &out, lf
	cmd.WaitDelay = 30 * time.Second
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("%s: %v (its log: %s)", strings.Join(args[:3], " "), err, logFile)
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return res, fmt.Errorf("%s: its report: %v (its log: %s)", strings.Join(args[:3], " "), err, logFile)
	}
	return res, nil
}

// inProcessChild is the child: kind "serve" runs the serve command with
// serveArgs on a bench.MemListener, "control" bench.HoldHandler on one;
// then bench.IdleInProcess, whose result it prints as JSON.
func inProcessChild(ctx context.Context, std *stdio, o *benchOptions, serveArgs []string) error {
	ln := bench.NewMemListener(o.sources)
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	served := make(chan error, 1)
	switch o.inProcessChild {
	case "serve":
		// As run runs the serve command: its flags, then its config
		// (environment, config file).
		fs, runServe := newFlagSet(serveCommand)
		pos, err := parseFlags(fs, serveArgs)
		if err == nil {
			err = serveCommand.config.apply(fs, os.Getenv, serveOption)
		}
		if err != nil {
			return fmt.Errorf("serve %s: %w", strings.Join(serveArgs, " "), err)
		}
		serveStd := &stdio{in: strings.NewReader(""), out: io.Discard, err: std.err}
		go func() { served <- runServe(context.WithValue(sctx, listenerKey{}, ln), serveStd, pos) }()
	case "control":
		// The collector paced as serve paces it (--gc-headroom's default).
		if stopGC, ok := gctune.Tune(128 << 20); ok {
			defer stopGC()
		}
		hs := &http.Server{Handler: bench.HoldHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { served <- hs.Serve(ln) }()
		defer hs.Close()
	default:
		return usageError("--in-process-child is serve or control")
	}
	// A server that stops before it accepts ends the run.
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	early := make(chan error, 1)
	go func() {
		select {
		case err := <-served:
			early <- err
			cancel(fmt.Errorf("the server stopped: %v", err))
		case <-rctx.Done():
		}
	}()
	res, err := bench.IdleInProcess(rctx, bench.InProcessOptions{Listener: ln, Connections: o.idle, Hold: o.hold, Settle: o.settle, TurnTimeout: o.turnTimeout,
		Profile: o.heapProfile})
	if err != nil {
		if c := context.Cause(rctx); c != nil && !errors.Is(c, context.Canceled) {
			return c
		}
		return err
	}
	if err := json.NewEncoder(std.out).Encode(res); err != nil {
		return err
	}
	stop()
	ln.Close()
	select {
	case <-early:
	case <-time.After(20 * time.Second):
	}
	return nil
}
