package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/internal/bench"
)

// compareEngines are the engines --compare knows.
// "reference" is the bench's reference server on Redis (--reference);
// "cluster" is serve on the Redis Cluster of --cluster.
var compareEngines = map[string]bool{"embedded": true, "redis": true, "reference": true, "cluster": true}

// runCompare alternates runs of o on the engines of o.compare ("embedded,
// redis", or "redis,reference": serve on Redis and the reference server), o.runs rounds, each engine once a round (the order flips every
// round so that a drift of the machine's load weighs on both alike), and
// prints each run as it ends and the ranges and ratios at the end. The
// Redis runs use --redis, or one redis-server the bench starts for all of
// them.
func runCompare(ctx context.Context, std *stdio, o *benchOptions) (err error) {
	engines := splitList(o.compare)
	if len(engines) != 2 || engines[0] == engines[1] {
		return usageError("--compare takes two engines, such as embedded,redis")
	}
	for _, e := range engines {
		if !compareEngines[e] {
			return usageError("--compare: no engine %q (embedded, redis, reference or cluster)", e)
		}
		if e == "cluster" && o.cluster == "" {
			return usageError("--compare ...,cluster needs the Redis Cluster's nodes: --cluster HOST:PORT,HOST:PORT,...")
		}
	}
	switch {
	case o.runs < 1:
		return usageError("--runs must be at least 1")
	case o.url != "" || o.idle > 0 || o.servers != 1 || o.embedded:
		return usageError("--compare starts its own single server per run: no --url, --idle, --servers or --embedded")
	case o.duration <= 0:
		return usageError("--compare needs a --duration: runs of the same length compare")
	}
	note := func(format string, args ...any) { fmt.Fprintf(std.err, "bench: "+format+"\n", args...) }
	redisURL, redisVersion := o.redisURL, ""
	if redisURL == "" {
		dir, done, err := benchWorkDir("playbook-bench-redis-", o.keepLogs, note)
		if err != nil {
			return err
		}
		defer func() { done(err) }()
		note("starting redis-server for the Redis runs")
		rs, err := bench.StartRedis(ctx, dir)
		if err != nil {
			return err
		}
		defer rs.Stop(5 * time.Second)
		redisURL, redisVersion = rs.URL, rs.Version
	}
	cmp := &bench.Comparison{Machine: bench.ThisMachine(redisVersion), Visitors: o.visitors, Duration: o.duration, Warmup: o.warmup, Engines: engines}
	if !o.json {
		cmp.WriteHeader(std.out)
	}
	quiet := &stdio{in: std.in, out: std.err, err: std.err}
	for round := 1; round <= o.runs; round++ {
		order := engines
		if round%2 == 0 {
			order = []string{engines[1], engines[0]}
		}
		for _, e := range order {
			run := *o
			run.compare, run.ceiling, run.json = "", 0, false
			run.embedded = e == "embedded"
			run.reference = e == "reference"
			run.redisURL = ""
			switch e {
			case "redis", "reference":
				run.redisURL = redisURL
			case "cluster":
				run.redisURL = o.cluster
			}
			for _, f := range []*string{&run.profile, &run.heapProfile} {
				if *f != "" {
					*f = suffixed(*f, fmt.Sprintf("-%s-%d", e, round))
				}
			}
			note("round %d of %d: %s", round, o.runs, e)
			rep, err := measureBench(ctx, quiet, &run)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, e, err)
			}
			if rep.Machine.Redis != "" {
				cmp.Machine.Redis = rep.Machine.Redis
			}
			r := bench.CompareRun{Round: round, Engine: e, Load: rep.Load}
			cmp.Runs = append(cmp.Runs, r)
			if !o.json {
				cmp.WriteRun(std.out, r)
			}
		}
	}
	if o.json {
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(cmp); err != nil {
			return err
		}
	} else {
		cmp.WriteSummary(std.out)
	}
	if n := cmp.Errors(); n > 0 {
		return failf("%d errors: replies that differ from the reference conversation, timeouts, broken connections or handoffs not queued", n)
	}
	return nil
}

// suffixed puts suffix before file's extension: cpu.prof -> cpu-redis-1.prof.
func suffixed(file, suffix string) string {
	if i := strings.LastIndex(file, "."); i > strings.LastIndex(file, string(os.PathSeparator)) {
		return file[:i] + suffix + file[i:]
	}
	return file + suffix
}
