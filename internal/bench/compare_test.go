package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestComparisonRatiosAndCPUPerTurn(t *testing.T) {
	run := func(round int, engine string, tps, serverCores, redisCores float64) CompareRun {
		l := &LoadReport{Result: Result{Turns: int(tps * 10), TurnsPerSec: tps, Window: 10 * time.Second, Queued: 3, Handoffs: 3}}
		l.ServerCPUCores, l.RedisCPUCores, l.BenchCPUCores = serverCores, redisCores, 0.1
		l.Latency.P99 = time.Duration(tps) * time.Microsecond
		if redisCores > 0 {
			l.Redis = &RedisPerTurn{RoundTrips: 3, AllTotal: 12}
		}
		return CompareRun{Round: round, Engine: engine, Load: l}
	}
	c := &Comparison{Engines: []string{"embedded", "redis"}, Visitors: 50, Duration: 10 * time.Second, Runs: []CompareRun{
		run(1, "embedded", 2000, 0.6, 0), run(1, "redis", 1000, 0.4, 0.2),
		run(2, "redis", 2000, 0.4, 0.2), run(2, "embedded", 2000, 0.6, 0),
	}}
	rs := c.Ratios()
	if len(rs) != 2 || rs[0] != 2 || rs[1] != 1 || median(rs) != 1.5 {
		t.Fatalf("ratios %v (median %v), want [2 1] (1.5)", rs, median(rs))
	}
	// 0.6 cores over 10 s for 20,000 turns: 300 µs a turn.
	if d := c.Runs[0].ServerCPUPerTurn(); d != 300*time.Microsecond {
		t.Fatalf("server CPU per turn %v, want 300µs", d)
	}
	if d := c.Runs[1].StoreCPUPerTurn(); d != 200*time.Microsecond {
		t.Fatalf("store CPU per turn %v, want 200µs", d)
	}
	var b bytes.Buffer
	c.WriteText(&b)
	for _, want := range []string{
		"  embedded  2,000 turns/s, p50 0.0 ms, p99 2.0 ms, server CPU 300 µs/turn\n",
		"  redis     1,000–2,000 turns/s, p50 0.0 ms, p99 1.0–2.0 ms, server CPU 200–400 µs/turn + store 100–200 µs/turn\n",
		"round by round: 2.00, 1.00 (median 1.50)\n",
		// 2,000 µs over 1,000 µs in round 1, 2,000 over 2,000 in round 2
		"  ratio     embedded / redis p99, round by round: 2.00, 1.00 (median 1.50)\n",
		// 300 µs over 400 µs, then 300 over 200
		"  ratio     embedded / redis server CPU/turn, round by round: 0.75, 1.50 (median 1.12)\n",
		// 0.1 cores: 50 µs a turn at 2,000 turns/s, 100 at 1,000
		"  ratio     embedded / redis bench CPU/turn, round by round: 0.50, 1.00 (median 0.75)\n",
		"            bench (load generator) CPU 50–100 µs/turn; Redis 3.00 round trips, 12.0 commands per turn\n",
		"  2     redis        2,000   0.00ms   2.00ms     200 µs     100 µs      50 µs   3.00   12.0       0   3 of 3\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	// The embedded engine has no store process and no Redis requests:
	// no ratio of them.
	for _, not := range []string{"Redis CPU/turn", "round trips/turn"} {
		if strings.Contains(b.String(), not) {
			t.Errorf("report has a %q ratio:\n%s", not, b.String())
		}
	}
}
