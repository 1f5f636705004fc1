package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Comparison is a run of `playbook bench --scenario embedded-vs-redis`:
// the same load on two storage engines, alternated, so that both see the
// same machine (a shared machine's load drifts; runs one after the other
// of the same engine would measure the drift).
type Comparison struct {
	Machine  Machine       `json:"machine"`
	Visitors int           `json:"visitors"`
	Duration time.Duration `json:"duration_ns"`
	Warmup   time.Duration `json:"warmup_ns"`
	// Engines are the engines compared, the first one the numerator of
	// the ratios.
	Engines []string     `json:"engines"`
	Runs    []CompareRun `json:"runs"`
}

// CompareRun is one run of one engine.
type CompareRun struct {
	Round  int    `json:"round"` // 1, 2, ...: each engine runs once a round
	Engine string `json:"engine"`
	// Load is the run's measurement (Result and Resources).
	Load *LoadReport `json:"load"`
}

// ServerCPUPerTurn is the server process's CPU time per turn of the
// window: steadier than turns/s on a shared machine, where turns/s
// follows what the other processes leave.
func (r CompareRun) ServerCPUPerTurn() time.Duration {
	return perTurn(r.Load.ServerCPUCores, r.Load)
}

// StoreCPUPerTurn is the CPU time per turn of a store outside the server
// (redis-server's; 0 for the embedded engine, whose store works in the
// server process).
func (r CompareRun) StoreCPUPerTurn() time.Duration {
	return perTurn(r.Load.RedisCPUCores, r.Load)
}

// BenchCPUPerTurn is the load generator's (this process's) CPU time per
// turn: the visitors' side of a turn, which a server that sends fewer or
// more frames changes too.
func (r CompareRun) BenchCPUPerTurn() time.Duration {
	return perTurn(r.Load.BenchCPUCores, r.Load)
}

// RoundTrips are the Redis requests per turn the server waited for (-1:
// unknown, such as the embedded engine's).
func (r CompareRun) RoundTrips() float64 {
	if r.Load == nil || r.Load.Redis == nil {
		return -1
	}
	return r.Load.Redis.RoundTrips
}

// RedisRequests are the requests Redis read per turn, on a cluster
// summed over its masters (RedisPerTurn.Requests; -1: unknown).
func (r CompareRun) RedisRequests() float64 {
	if r.Load == nil || r.Load.Redis == nil || r.Load.Redis.Requests <= 0 {
		return -1
	}
	return r.Load.Redis.Requests
}

// ServerCalls are the server's read and write system calls per turn (-1:
// unknown).
func (r CompareRun) ServerCalls() float64 {
	if r.Load == nil || r.Load.Syscalls == nil {
		return -1
	}
	return r.Load.Syscalls.Reads + r.Load.Syscalls.Writes
}

// ServerSwitches are the server's context switches per turn (-1:
// unknown).
func (r CompareRun) ServerSwitches() float64 {
	if r.Load == nil || r.Load.Syscalls == nil {
		return -1
	}
	return r.Load.Syscalls.Switches
}

// BenchCalls, BenchSwitches and BenchAllocs are the load generator's
// read+write system calls, context switches and heap allocations per turn
// (-1: unknown): what the server's frames, upgrade and close cost its
// clients, in counts that do not follow the machine's load.
func (r CompareRun) BenchCalls() float64 {
	if r.Load == nil || r.Load.BenchSyscalls == nil {
		return -1
	}
	return r.Load.BenchSyscalls.Reads + r.Load.BenchSyscalls.Writes
}

func (r CompareRun) BenchSwitches() float64 {
	if r.Load == nil || r.Load.BenchSyscalls == nil {
		return -1
	}
	return r.Load.BenchSyscalls.Switches
}

func (r CompareRun) BenchAllocs() float64 {
	if r.Load == nil || r.Load.BenchAllocs <= 0 {
		return -1
	}
	return r.Load.BenchAllocs
}

// Commands are the Redis commands per turn, those scripts ran included
// (INFO commandstats; -1: unknown).
func (r CompareRun) Commands() float64 {
	if r.Load == nil || r.Load.Redis == nil {
		return -1
	}
	return r.Load.Redis.AllTotal
}

func perTurn(cores float64, l *LoadReport) time.Duration {
	if l == nil || l.Turns == 0 {
		return 0
	}
	return time.Duration(cores * l.Window.Seconds() / float64(l.Turns) * float64(time.Second))
}

// Errors sums the runs' errors.
func (c *Comparison) Errors() int {
	n := 0
	for _, r := range c.Runs {
		n += r.Load.Errors
	}
	return n
}

// Ratios are, round by round, the first engine's turns/s over the
// second's.
func (c *Comparison) Ratios() []float64 {
	return c.RatiosOf(func(r CompareRun) float64 { return r.Load.TurnsPerSec })
}

// RatiosOf are, round by round, the first engine's value of f over the
// second's; rounds where either is not above 0 are left out.
func (c *Comparison) RatiosOf(f func(CompareRun) float64) []float64 {
	if len(c.Engines) != 2 {
		return nil
	}
	byRound := map[int]map[string]float64{}
	for _, r := range c.Runs {
		if byRound[r.Round] == nil {
			byRound[r.Round] = map[string]float64{}
		}
		byRound[r.Round][r.Engine] = f(r)
	}
	var out []float64
	for round := 1; round <= len(byRound); round++ {
		a, b := byRound[round][c.Engines[0]], byRound[round][c.Engines[1]]
		if a > 0 && b > 0 {
			out = append(out, a/b)
		}
	}
	return out
}

// WriteRun prints one run as a line of the table WriteText prints.
func (c *Comparison) WriteRun(w io.Writer, r CompareRun) {
	l := r.Load
	store := "-"
	if d := r.StoreCPUPerTurn(); d > 0 {
		store = us(d)
	}
	queued := "not checked"
	if l.Queued >= 0 {
		queued = fmt.Sprintf("%s of %s", num(l.Queued), num(l.Handoffs))
	}
	trips, cmds := "-", "-"
	if v := r.RoundTrips(); v >= 0 {
		trips = fmt.Sprintf("%.2f", v)
	}
	if v := r.Commands(); v >= 0 {
		cmds = fmt.Sprintf("%.1f", v)
	}
	fmt.Fprintf(w, "  %-5d %-9s %8s %8s %8s %10s %10s %10s %6s %6s %7d   %s\n", r.Round, r.Engine, num(int(l.TurnsPerSec+0.5)),
		ms(l.Latency.P50), ms(l.Latency.P99), us(r.ServerCPUPerTurn()), store, us(r.BenchCPUPerTurn()), trips, cmds, l.Errors, queued)
}

// WriteHeader prints the table's title and header.
func (c *Comparison) WriteHeader(w io.Writer) {
	m := c.Machine
	fmt.Fprintf(w, "playbook bench: %s, %d visitors, %v each (after %v of warm-up), alternated\n",
		strings.Join(c.Engines, " vs "), c.Visitors, c.Duration, c.Warmup)
	fmt.Fprintf(w, "machine   %d CPUs (%s), Linux %s, %s, Redis %s\n", m.CPUs, m.CPUModel, m.Kernel, m.Go, orNA(m.Redis))
	fmt.Fprintf(w, "\n  %-5s %-9s %8s %8s %8s %10s %10s %10s %6s %6s %7s   %s\n", "round", "engine", "turns/s", "p50", "p99", "server", "store", "bench", "Redis", "Redis", "errors", "handoffs queued")
	fmt.Fprintf(w, "  %-5s %-9s %8s %8s %8s %10s %10s %10s %6s %6s %7s\n", "", "", "", "", "", "CPU/turn", "CPU/turn", "CPU/turn", "trips", "cmds", "")
	fmt.Fprintf(w, "  %-5s %-9s %8s %8s %8s %10s %10s %10s %6s %6s %7s\n", "", "", "", "", "", "", "", "", "/turn", "/turn", "")
}

// WriteSummary prints the ranges and the ratios.
func (c *Comparison) WriteSummary(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n")
	for _, e := range c.Engines {
		var tps, p50, p99, trips, cmds, reqs, calls, switches, allocs, allocBytes, bcalls, bswitches, ballocs []float64
		var cpu, st, bn []time.Duration
		for _, r := range c.Runs {
			if r.Engine != e {
				continue
			}
			tps = append(tps, r.Load.TurnsPerSec)
			p50 = append(p50, r.Load.Latency.P50.Seconds()*1000)
			p99 = append(p99, r.Load.Latency.P99.Seconds()*1000)
			cpu = append(cpu, r.ServerCPUPerTurn())
			st = append(st, r.StoreCPUPerTurn())
			bn = append(bn, r.BenchCPUPerTurn())
			if v := r.RoundTrips(); v >= 0 {
				trips = append(trips, v)
				cmds = append(cmds, r.Commands())
			}
			if v := r.RedisRequests(); v >= 0 {
				reqs = append(reqs, v)
			}
			if v := r.ServerCalls(); v >= 0 {
				calls = append(calls, v)
				switches = append(switches, r.ServerSwitches())
			}
			if r.Load.ServerAllocs > 0 {
				allocs = append(allocs, r.Load.ServerAllocs)
				allocBytes = append(allocBytes, r.Load.ServerAllocBytes)
			}
			if v := r.BenchCalls(); v >= 0 {
				bcalls = append(bcalls, v)
				bswitches = append(bswitches, r.BenchSwitches())
			}
			if v := r.BenchAllocs(); v >= 0 {
				ballocs = append(ballocs, v)
			}
		}
		if len(tps) == 0 {
			continue
		}
		p("  %-9s %s turns/s, p50 %s ms, p99 %s ms, server CPU %s µs/turn", e, spanN(tps), span(p50, "%.1f"), span(p99, "%.1f"), spanD(cpu))
		if slices.Max(st) > 0 {
			p(" + store %s µs/turn", spanD(st))
		}
		p("\n")
		p("  %-9s bench (load generator) CPU %s µs/turn", "", spanD(bn))
		if len(trips) > 0 {
			p("; Redis %s round trips, %s commands per turn", span(trips, "%.2f"), span(cmds, "%.1f"))
		}
		if len(reqs) > 0 {
			p("; %s requests read at Redis per turn", span(reqs, "%.2f"))
		}
		p("\n")
		if len(calls) > 0 {
			p("  %-9s server %s read+write system calls, %s context switches per turn\n", "", span(calls, "%.2f"), span(switches, "%.2f"))
		}
		if len(allocs) > 0 {
			p("  %-9s server heap %s allocations, %s bytes per turn\n", "", span(allocs, "%.1f"), span(allocBytes, "%.0f"))
		}
		if len(bcalls) > 0 && len(ballocs) > 0 {
			p("  %-9s bench (load generator) %s read+write system calls, %s context switches, %s heap allocations per turn\n", "",
				span(bcalls, "%.2f"), span(bswitches, "%.2f"), span(ballocs, "%.1f"))
		}
	}
	ratio := func(what string, f func(CompareRun) float64) {
		rs := c.RatiosOf(f)
		if len(rs) == 0 {
			return
		}
		parts := make([]string, len(rs))
		for i, r := range rs {
			parts[i] = fmt.Sprintf("%.2f", r)
		}
		p("  ratio     %s / %s %s, round by round: %s (median %.2f)\n", c.Engines[0], c.Engines[1], what, strings.Join(parts, ", "), median(rs))
	}
	ratio("turns/s", func(r CompareRun) float64 { return r.Load.TurnsPerSec })
	ratio("p99", func(r CompareRun) float64 { return r.Load.Latency.P99.Seconds() })
	ratio("server CPU/turn", func(r CompareRun) float64 { return r.ServerCPUPerTurn().Seconds() })
	ratio("Redis CPU/turn", func(r CompareRun) float64 { return r.StoreCPUPerTurn().Seconds() })
	ratio("bench CPU/turn", func(r CompareRun) float64 { return r.BenchCPUPerTurn().Seconds() })
	ratio("CPU/turn in all (server + store + bench)", func(r CompareRun) float64 {
		return (r.ServerCPUPerTurn() + r.StoreCPUPerTurn() + r.BenchCPUPerTurn()).Seconds()
	})
	ratio("Redis round trips/turn", CompareRun.RoundTrips)
	ratio("Redis commands/turn", CompareRun.Commands)
	ratio("requests read at Redis/turn", CompareRun.RedisRequests)
	ratio("server read+write calls/turn", CompareRun.ServerCalls)
	ratio("server context switches/turn", CompareRun.ServerSwitches)
	ratio("server allocations/turn", func(r CompareRun) float64 { return r.Load.ServerAllocs })
	ratio("server allocated bytes/turn", func(r CompareRun) float64 { return r.Load.ServerAllocBytes })
	ratio("bench read+write calls/turn", CompareRun.BenchCalls)
	ratio("bench context switches/turn", CompareRun.BenchSwitches)
	ratio("bench allocations/turn", CompareRun.BenchAllocs)
	p("  errors    %d\n", c.Errors())
}

// WriteText prints the whole comparison.
func (c *Comparison) WriteText(w io.Writer) {
	c.WriteHeader(w)
	for _, r := range c.Runs {
		c.WriteRun(w, r)
	}
	c.WriteSummary(w)
}

func span(v []float64, format string) string {
	lo, hi := slices.Min(v), slices.Max(v)
	a, b := fmt.Sprintf(format, lo), fmt.Sprintf(format, hi)
	if a == b {
		return a
	}
	return a + "–" + b
}

// median is the middle value of v (the mean of the two middle ones for
// an even count).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func spanN(v []float64) string {
	lo, hi := num(int(slices.Min(v)+0.5)), num(int(slices.Max(v)+0.5))
	if lo == hi {
		return lo
	}
	return lo + "–" + hi
}

func spanD(v []time.Duration) string {
	f := make([]float64, len(v))
	for i, d := range v {
		f[i] = float64(d) / float64(time.Microsecond)
	}
	return span(f, "%.0f")
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }
