package bench

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
)

// Report is everything one `playbook bench` run measured, ready to print
// or encode as JSON.
type Report struct {
	Scenario string  `json:"scenario"`
	Machine  Machine `json:"machine"`
	Setup    Setup   `json:"setup"`

	Load    *LoadReport    `json:"load,omitempty"`
	Idle    *IdleReport    `json:"idle,omitempty"`
	Ceiling *CeilingReport `json:"ceiling,omitempty"`
	// Ratio is the end-to-end turns/s divided by the ceiling's.
	Ratio float64 `json:"ratio,omitempty"`
	// Masters are the keys on each master of a Redis Cluster after the
	// run (KeysPerMaster); nil on one Redis.
	Masters []MasterKeys `json:"keys_per_master,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
	Redis    string `json:"redis"`
}

// Setup is what ran.
type Setup struct {
	Servers    int    `json:"servers"`
	Store      string `json:"store"` // how the store was set up
	ServerPIDs []int  `json:"server_pids,omitempty"`
	Visitors   int    `json:"visitors,omitempty"`
	// Duration and Warmup are in nanoseconds in JSON.
	Duration      time.Duration `json:"duration_ns,omitempty"`
	Warmup        time.Duration `json:"warmup_ns,omitempty"`
	Conversations int           `json:"conversations_limit,omitempty"`
	Sources       int           `json:"source_addresses"`
}

// LoadReport is the end-to-end measurement.
type LoadReport struct {
	Result
	Resources
}

// Resources are what the processes used over a window.
type Resources struct {
	ServerCPUCores float64 `json:"server_cpu_cores"`
	ServerRSS      int64   `json:"server_rss_bytes"`
	ServerPeakRSS  int64   `json:"server_peak_rss_bytes"`
	RedisCPUCores  float64 `json:"redis_cpu_cores"`
	// RedisReplicaCPUCores is the replicas' part of RedisCPUCores (a
	// Redis Cluster); RedisNodes how many Redis processes it sums.
	RedisReplicaCPUCores float64 `json:"redis_replica_cpu_cores,omitempty"`
	RedisNodes           int     `json:"redis_nodes,omitempty"`
	BenchCPUCores        float64 `json:"bench_cpu_cores"`
	// MachineCores is how many cores the whole machine kept busy: more
	// than server + Redis + bench means something else ran too.
	MachineCores float64       `json:"machine_busy_cores"`
	StealCores   float64       `json:"machine_steal_cores"`
	Redis        *RedisPerTurn `json:"redis,omitempty"`
	// Syscalls are the server processes' read and write system calls and
	// context switches per turn (nil: not read).
	Syscalls *SyscallsPerTurn `json:"server_syscalls,omitempty"`
	// ServerAllocs and ServerAllocBytes are the server processes' heap
	// allocations per turn of the window and their bytes (runtime.MemStats
	// Mallocs and TotalAlloc from their /debug/vars); 0 when unknown.
	ServerAllocs     float64 `json:"server_allocs_per_turn,omitempty"`
	ServerAllocBytes float64 `json:"server_alloc_bytes_per_turn,omitempty"`
	// BenchSyscalls, BenchAllocs and BenchAllocBytes are the same counts
	// of the load generator (this process), per turn: what the servers'
	// frames, upgrades and closes cost their clients, steadier than its
	// CPU time. nil and 0 when unknown.
	BenchSyscalls   *SyscallsPerTurn `json:"bench_syscalls,omitempty"`
	BenchAllocs     float64          `json:"bench_allocs_per_turn,omitempty"`
	BenchAllocBytes float64          `json:"bench_alloc_bytes_per_turn,omitempty"`
}

// RedisPerTurn is Redis's work divided by the turns of the window.
type RedisPerTurn struct {
	// RoundTrips are requests a server sent and waited for: one command or
	// one pipeline. From the servers' own counters; -1 when unknown.
	RoundTrips float64 `json:"round_trips"`
	// Requests and Replies are Redis's read and write events (INFO stats
	// total_reads_processed and total_writes_processed, summed over a
	// cluster's masters): a round trip is one request to each node it
	// reaches (a pipeline that arrives at once is read once), and a
	// write carries replies or pub/sub messages to one client. 0 when
	// unknown.
	Requests float64 `json:"requests,omitempty"`
	Replies  float64 `json:"replies,omitempty"`
	// Sent are the commands the servers sent, by name, including pub/sub
	// SUBSCRIBE and UNSUBSCRIBE (written without a wait).
	Sent      map[string]float64 `json:"sent,omitempty"`
	SentTotal float64            `json:"sent_total"`
	// InScripts are the commands Lua scripts ran inside the EVALSHAs:
	// commandstats minus what the servers sent.
	InScripts      map[string]float64 `json:"in_scripts,omitempty"`
	InScriptsTotal float64            `json:"in_scripts_total"`
	// All is every command Redis counted in INFO commandstats (the bench's
	// own INFO calls left out).
	All      map[string]float64 `json:"all"`
	AllTotal float64            `json:"all_total"`
}

// IdleReport is the idle-connections measurement.
type IdleReport struct {
	IdleResult
	BaseRSS      int64   `json:"server_rss_before_bytes"`
	ConnectedRSS int64   `json:"server_rss_connected_bytes"`
	AfterRSS     int64   `json:"server_rss_after_hold_bytes"`
	PeakRSS      int64   `json:"server_peak_rss_bytes"`
	PerConnRSS   float64 `json:"server_rss_per_connection_bytes"`
	HoldCPUCores float64 `json:"server_cpu_cores_during_hold"`
	// GoBefore and GoConnected are the servers' Go memory before the
	// connections and with all of them open.
	GoBefore     *GoStats      `json:"go_before,omitempty"`
	GoConnected  *GoStats      `json:"go_connected,omitempty"`
	Hold         time.Duration `json:"hold_ns"`
	Turns        int           `json:"turns_each,omitempty"` // answered past the greeting before the hold
	RedisPerConn *RedisPerTurn `json:"redis_per_connection,omitempty"`
}

// CeilingReport is the ceiling measurement.
type CeilingReport struct {
	CeilingResult
	RedisCPUCores float64       `json:"redis_cpu_cores"`
	BenchCPUCores float64       `json:"bench_cpu_cores"`
	MachineCores  float64       `json:"machine_busy_cores"`
	Redis         *RedisPerTurn `json:"redis,omitempty"`
}

// ThisMachine describes the machine the bench runs on.
func ThisMachine(redisVersion string) Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Redis: redisVersion}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func cores(a, b time.Duration, window time.Duration) float64 {
	if window <= 0 {
		return 0
	}
	return (b - a).Seconds() / window.Seconds()
}

// ResourcesBetween computes what the window between a and b cost, per turn
// for Redis.
func ResourcesBetween(a, b Sample, turns int) Resources {
	w := b.At.Sub(a.At)
	r := Resources{
		ServerCPUCores:       cores(a.ServerCPU, b.ServerCPU, w),
		ServerRSS:            b.ServerRSS,
		ServerPeakRSS:        b.ServerPeakRSS,
		RedisCPUCores:        cores(a.RedisCPU, b.RedisCPU, w),
		BenchCPUCores:        cores(a.BenchCPU, b.BenchCPU, w),
		RedisReplicaCPUCores: cores(a.RedisReplicaCPU, b.RedisReplicaCPU, w),
		RedisNodes:           b.RedisNodes,
		MachineCores:         cores(a.MachineBusy, b.MachineBusy, w),
		StealCores:           cores(a.MachineSteal, b.MachineSteal, w),
	}
	r.Redis = RedisBetween(a, b, turns)
	r.Syscalls = syscallsBetween(a, b, turns)
	if a.Go != nil && b.Go != nil && turns > 0 && b.Go.Mallocs > a.Go.Mallocs {
		r.ServerAllocs = float64(b.Go.Mallocs-a.Go.Mallocs) / float64(turns)
		r.ServerAllocBytes = float64(b.Go.TotalAlloc-a.Go.TotalAlloc) / float64(turns)
	}
	if a.BenchIO && b.BenchIO && turns > 0 {
		per := func(x, y int64) float64 { return float64(y-x) / float64(turns) }
		r.BenchSyscalls = &SyscallsPerTurn{Reads: per(a.BenchReads, b.BenchReads), Writes: per(a.BenchWrites, b.BenchWrites),
			Switches: per(a.BenchSwitches, b.BenchSwitches)}
	}
	if turns > 0 && b.BenchMallocs > a.BenchMallocs {
		r.BenchAllocs = float64(b.BenchMallocs-a.BenchMallocs) / float64(turns)
		r.BenchAllocBytes = float64(b.BenchAllocBytes-a.BenchAllocBytes) / float64(turns)
	}
	return r
}

// pubsubCommands are sent on pub/sub connections, which go-redis writes
// without waiting; scripts cannot run them.
var pubsubCommands = []string{"subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"}

// RedisBetween divides Redis's work between two samples by turns; nil when
// Redis reported no command stats.
func RedisBetween(a, b Sample, turns int) *RedisPerTurn {
	if a.Commands == nil || b.Commands == nil || turns <= 0 {
		return nil
	}
	per := func(n int64) float64 { return float64(n) / float64(turns) }
	all := map[string]int64{}
	for k, v := range b.Commands {
		if k == "info" {
			continue
		}
		if d := v - a.Commands[k]; d > 0 {
			all[k] = d
		}
	}
	r := &RedisPerTurn{RoundTrips: -1, All: map[string]float64{}}
	if b.RedisReads > a.RedisReads {
		r.Requests = per(b.RedisReads - a.RedisReads)
		r.Replies = per(b.RedisWrites - a.RedisWrites)
	}
	for k, v := range all {
		r.All[k] = per(v)
		r.AllTotal += per(v)
	}
	if a.Client == nil || b.Client == nil {
		return r
	}
	sent := map[string]int64{}
	for k, v := range b.Client.Commands {
		if d := v - a.Client.Commands[k]; d > 0 {
			sent[strings.ToLower(k)] = d
		}
	}
	for _, k := range pubsubCommands {
		if all[k] > 0 {
			sent[k] += all[k]
		}
	}
	r.RoundTrips = per(b.Client.RoundTrips - a.Client.RoundTrips)
	r.Sent, r.InScripts = map[string]float64{}, map[string]float64{}
	for k, v := range sent {
		r.Sent[k] = per(v)
		r.SentTotal += per(v)
	}
	for k, v := range all {
		if d := v - sent[k]; d > 0 {
			r.InScripts[k] = per(d)
			r.InScriptsTotal += per(d)
		}
	}
	return r
}

// WriteText prints the report for people.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	m := r.Machine
	p("playbook bench: %s\n", r.Scenario)
	p("machine   %d CPUs (%s), Linux %s, %s, Redis %s\n", m.CPUs, m.CPUModel, m.Kernel, m.Go, orNA(m.Redis))
	p("setup     %d server process(es) %v; store: %s; visitors over %d loopback source address(es)\n",
		r.Setup.Servers, r.Setup.ServerPIDs, r.Setup.Store, r.Setup.Sources)

	if l := r.Load; l != nil {
		p("\nend to end: %d visitors over websockets, the reference conversation (BENCH.md)", l.Visitors)
		if l.Think > 0 {
			p(", each pausing %v on average before a turn", l.Think)
		} else {
			p(", each sending as soon as it has the answer")
		}
		if r.Setup.Duration > 0 {
			p("; measured %v after %v of warm-up", r.Setup.Duration, r.Setup.Warmup)
		}
		p("\n")
		p("  turns          %s in %.1fs = %s turns/s\n", num(l.Turns), l.Window.Seconds(), num(int(l.TurnsPerSec+0.5)))
		p("  latency        p50 %s  p95 %s  p99 %s  max %s   (visitor frame sent -> bot's last message of the turn received)\n",
			ms(l.Latency.P50), ms(l.Latency.P95), ms(l.Latency.P99), ms(l.Latency.Max))
		kinds := []string{TurnStart, TurnAnswer}
		for _, o := range Outcomes {
			kinds = append(kinds, TurnLast+" "+o)
		}
		for _, k := range kinds {
			if b, ok := l.ByKind[k]; ok {
				p("    %-20s p50 %s  p95 %s  p99 %s  max %s\n", k, ms(b.P50), ms(b.P95), ms(b.P99), ms(b.Max))
			}
		}
		p("  errors         %d\n", l.Errors)
		for _, e := range l.ErrorSamples {
			p("                 %s\n", e)
		}
		var parts []string
		for _, o := range Outcomes {
			parts = append(parts, fmt.Sprintf("%s %s", o, num(l.ByOutcome[o])))
		}
		p("  conversations  %s completed, every reply and outcome checked: %s\n", num(l.Conversations), strings.Join(parts, ", "))
		if l.Queued >= 0 {
			p("  handoffs       %s of %s in the inbox (open, and in the team's Unassigned queue or assigned)\n", num(l.Queued), num(l.Handoffs))
		} else {
			p("  handoffs       %s, not checked in the inbox (servers the bench did not start)\n", num(l.Handoffs))
		}
		r.writeResources(w, &l.Resources, "turn")
		if l.Turns > 0 {
			redis := us(perTurn(l.RedisCPUCores, l))
			if l.RedisNodes > 1 {
				redis += fmt.Sprintf(" (%d nodes; replicas %s)", l.RedisNodes, us(perTurn(l.RedisReplicaCPUCores, l)))
			}
			p("  CPU per turn   server %s, Redis %s, bench (load generator) %s   (CPU time / turns of the window: steadier than turns/s on a shared machine)\n",
				us(perTurn(l.ServerCPUCores, l)), redis, us(perTurn(l.BenchCPUCores, l)))
		}
		if sc := l.Syscalls; sc != nil {
			p("  server calls   %.2f read and %.2f write system calls, %.2f context switches per turn   (/proc/PID/io syscr, syscw; /proc/PID/task/*/status)\n",
				sc.Reads, sc.Writes, sc.Switches)
		}
		if sc := l.BenchSyscalls; sc != nil {
			p("  bench calls    %.2f read and %.2f write system calls, %.2f context switches per turn   (the load generator's own)\n",
				sc.Reads, sc.Writes, sc.Switches)
		}
		if l.BenchAllocs > 0 {
			p("  bench heap     %.1f allocations, %.0f bytes a turn (runtime.MemStats of the load generator)\n", l.BenchAllocs, l.BenchAllocBytes)
		}
	}
	if c := r.Ceiling; c != nil {
		p("\nceiling: %d workers doing only the atomic session read-modify-write (redisstore.Store.Turn, trivial step, 2 entries) on the same Redis\n", c.Workers)
		p("  turns          %s in %.1fs = %s turns/s\n", num(c.Turns), c.Window.Seconds(), num(int(c.TurnsPerSec+0.5)))
		p("  latency        p50 %s  p95 %s  p99 %s  max %s\n", ms(c.Latency.P50), ms(c.Latency.P95), ms(c.Latency.P99), ms(c.Latency.Max))
		p("  errors         %d", c.Errors)
		if c.FirstError != "" {
			p(" (%s)", c.FirstError)
		}
		p("\n  CPU            Redis %.2f cores, bench %.2f cores; whole machine busy %.2f cores\n", c.RedisCPUCores, c.BenchCPUCores, c.MachineCores)
		if rd := c.Redis; rd != nil {
			p("  Redis/turn     %.2f commands (%s)\n", rd.AllTotal, breakdown(rd.All))
		}
		switch {
		case r.Ratio > 0:
			p("  ratio          end to end / ceiling = %.0f%%\n", 100*r.Ratio)
		case r.Load != nil && r.Load.Think > 0:
			p("  ratio          not computed: the visitors pause between turns, so the end-to-end rate is what they ask for\n")
		}
	}
	if len(r.Masters) > 0 {
		var total int64
		for _, m := range r.Masters {
			total += m.Keys
		}
		p("\nkeys per master (Redis Cluster): the run's keys (SCAN of its prefix), all keys (DBSIZE), slots served\n")
		for _, m := range r.Masters {
			share := 0.0
			if total > 0 {
				share = 100 * float64(m.Keys) / float64(total)
			}
			p("  %-21s %s keys (%.0f%%), %s in all, %s slots\n", m.Addr, num(int(m.Keys)), share, num(int(m.All)), num(m.Slots))
		}
	}
	if id := r.Idle; id != nil {
		chat := ""
		if id.Turns > 0 {
			chat = fmt.Sprintf(", %d turns answered each", id.Turns)
		}
		p("\nidle widgets: %s connections opened (connect, start, greeting checked%s), then held open %v doing nothing\n", num(id.Connections), chat, id.Hold)
		p("  errors         %d\n", id.Errors)
		for _, e := range id.ErrorSamples {
			p("                 %s\n", e)
		}
		p("  opened in      %.1fs; greeting latency p50 %s  p99 %s  max %s\n", id.OpenTime.Seconds(), ms(id.Start.P50), ms(id.Start.P99), ms(id.Start.Max))
		p("  server RSS     %s before, %s with all connected, %s after the hold (peak %s)\n", mb(id.BaseRSS), mb(id.ConnectedRSS), mb(id.AfterRSS), mb(id.PeakRSS))
		p("  per connection %.1f KB of server RSS ((connected - before) / connections)\n", id.PerConnRSS/1024)
		if a, b := id.GoBefore, id.GoConnected; a != nil && b != nil && id.Connections > 0 {
			n := float64(id.Connections) * 1024
			p("  Go's view      per connection: %.1f KB of heap in use (%.1f KB allocated), %.1f KB of goroutine stacks, %.1f goroutines\n",
				float64(b.HeapInuse-a.HeapInuse)/n, float64(b.HeapAlloc-a.HeapAlloc)/n, float64(b.StackInuse-a.StackInuse)/n,
				float64(b.Goroutines-a.Goroutines)/float64(id.Connections))
		}
		p("  while idle     server CPU %.3f cores; connections the server closed: %d\n", id.HoldCPUCores, id.Closed)
		if rd := id.RedisPerConn; rd != nil {
			p("  Redis/conn     %s round trips, %.2f commands sent (%s), %.2f run in scripts\n", rt(rd.RoundTrips), rd.SentTotal, breakdown(rd.Sent), rd.InScriptsTotal)
		}
	}
}

func (r *Report) writeResources(w io.Writer, res *Resources, unit string) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("  server         CPU %.2f cores (user+sys of the server processes, /proc/PID/stat); RSS %s at the end (peak %s)\n",
		res.ServerCPUCores, mb(res.ServerRSS), mb(res.ServerPeakRSS))
	if res.ServerAllocs > 0 {
		p("  server heap    %.1f allocations, %.0f bytes a %s (runtime.MemStats of the server processes)\n", res.ServerAllocs, res.ServerAllocBytes, unit)
	}
	redisCPU := "(INFO cpu)"
	if res.RedisNodes > 1 {
		redisCPU = fmt.Sprintf("(INFO cpu of all %d cluster nodes; replicas %.2f)", res.RedisNodes, res.RedisReplicaCPUCores)
	}
	p("  others         Redis CPU %.2f cores %s; bench (load generator) CPU %.2f cores; whole machine busy %.2f of %d cores (steal %.2f)\n",
		res.RedisCPUCores, redisCPU, res.BenchCPUCores, res.MachineCores, r.Machine.CPUs, res.StealCores)
	rd := res.Redis
	if rd == nil {
		p("  Redis/%s      not available (no INFO commandstats)\n", unit)
		return
	}
	p("  Redis per %s:\n", unit)
	p("    round trips    %s   requests a server sent and waited for (a command or a pipeline; servers' own counters)\n", rt(rd.RoundTrips))
	if rd.Requests > 0 {
		of := "Redis"
		if res.RedisNodes > 1 {
			of = "every master"
		}
		p("    at Redis       %.2f requests read, %.2f writes   (INFO stats total_reads_processed, total_writes_processed of %s: a round trip is a request to each node it reaches; a write carries replies or pub/sub messages)\n", rd.Requests, rd.Replies, of)
	}
	if rd.RoundTrips >= 0 {
		p("    sent           %.2f   commands the servers sent: %s\n", rd.SentTotal, breakdown(rd.Sent))
		p("                          (subscribe/unsubscribe follow conversations on the pub/sub connection, written without a wait)\n")
		p("    in scripts     %.2f   commands Lua scripts ran inside those EVALSHAs: %s\n", rd.InScriptsTotal, breakdown(rd.InScripts))
	}
	of := "INFO commandstats"
	if res.RedisNodes > 1 {
		of += " of every master"
	}
	p("    all            %.2f   every command in %s (the bench's INFO left out): %s\n", rd.AllTotal, of, breakdown(rd.All))
}

func rt(v float64) string {
	if v < 0 {
		return "n/a (the servers' --pprof counters were not reachable)"
	}
	return fmt.Sprintf("%.2f", v)
}

func breakdown(m map[string]float64) string {
	type kv struct {
		k string
		v float64
	}
	var all []kv
	for k, v := range m {
		if v >= 0.005 {
			all = append(all, kv{k, v})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].v != all[j].v {
			return all[i].v > all[j].v
		}
		return all[i].k < all[j].k
	})
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = fmt.Sprintf("%s %.2f", e.k, e.v)
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func orNA(s string) string {
	if s == "" {
		return "n/a"
	}
	return s
}

func ms(d time.Duration) string {
	switch {
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0fms", d.Seconds()*1000)
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", d.Seconds()*1000)
	default:
		return fmt.Sprintf("%.2fms", d.Seconds()*1000)
	}
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// num formats n with thousands separators.
func num(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	parts = append([]string{s}, parts...)
	out := strings.Join(parts, ",")
	if neg {
		out = "-" + out
	}
	return out
}
