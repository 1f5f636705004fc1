package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Sample is a snapshot of the resources the processes under test used so
// far. Differences of two samples are what a window cost.
type Sample struct {
	At time.Time
	// ServerCPU is the user+system CPU time of the server processes, from
	// /proc/PID/stat; ServerRSS and ServerPeakRSS their resident memory now
	// and at its peak (VmRSS, VmHWM of /proc/PID/status), summed.
	ServerCPU     time.Duration
	ServerRSS     int64
	ServerPeakRSS int64
	// ServerReads and ServerWrites are the server processes' read and
	// write system calls (ProcIO), ServerSwitches their threads' context
	// switches (ProcSwitches), summed; ServerIO tells they were read for
	// every server.
	ServerReads, ServerWrites, ServerSwitches int64
	ServerIO                                  bool
	// BenchCPU is this process's CPU time: the load generator.
	BenchCPU time.Duration
	// BenchReads, BenchWrites and BenchSwitches are this process's read
	// and write system calls and context switches (ProcIO, ProcSwitches),
	// BenchIO true when they were read; BenchMallocs and BenchAllocBytes
	// its heap allocations so far and their bytes (runtime.MemStats).
	// The load generator's steady counts: what a server's frames make
	// its clients do.
	BenchReads, BenchWrites, BenchSwitches int64
	BenchIO                                bool
	BenchMallocs, BenchAllocBytes          uint64
	// RedisCPU is Redis's used_cpu_user+used_cpu_sys (INFO cpu): on a
	// Redis Cluster, of every node, masters and replicas;
	// RedisReplicaCPU is the replicas' part of it.
	RedisCPU        time.Duration
	RedisReplicaCPU time.Duration
	// RedisNodes is how many Redis processes RedisCPU sums (0: none).
	RedisNodes int
	// MachineBusy and MachineSteal are the whole machine's non-idle and
	// stolen CPU time (/proc/stat), to see whether anything else ran.
	MachineBusy  time.Duration
	MachineSteal time.Duration
	// RedisReads and RedisWrites are Redis's read and write events (INFO
	// stats total_reads_processed, total_writes_processed): each read of
	// a client's requests (a pipeline that arrives at once is one) and
	// each write of replies or pub/sub messages to a client. On a cluster
	// summed over the masters, as Commands.
	RedisReads, RedisWrites int64
	// Commands are Redis's calls per command (INFO commandstats), which
	// count the commands scripts run as well as those clients send (on a
	// cluster, summed over the masters: a replica's are its master's
	// again); nil when Redis does not report them.
	Commands map[string]int64
	// Client is what the server processes' Redis clients sent, counted by
	// the servers themselves (their --pprof listener's /debug/vars); nil
	// when not available.
	Client *ClientStats
	// Go is the servers' Go runtime memory, from the same /debug/vars.
	Go *GoStats
}

// GoStats is a server's Go runtime view of its memory (runtime.MemStats),
// summed over the servers.
type GoStats struct {
	HeapInuse   int64 `json:"heap_inuse_bytes"`  // spans with live or unswept objects
	HeapAlloc   int64 `json:"heap_alloc_bytes"`  // allocated objects, live or not yet collected
	StackInuse  int64 `json:"stack_inuse_bytes"` // goroutine stacks
	Sys         int64 `json:"sys_bytes"`         // everything Go got from the OS
	HeapIdle    int64 `json:"heap_idle_bytes"`   // free spans, some returned to the OS
	HeapRelease int64 `json:"heap_released_bytes"`
	Goroutines  int64 `json:"goroutines"`
	// Mallocs and TotalAlloc count every heap allocation since the
	// process started, and their bytes (runtime.MemStats).
	Mallocs    int64 `json:"mallocs"`
	TotalAlloc int64 `json:"total_alloc_bytes"`
}

// ClientStats counts what a server's Redis client sent: RoundTrips are
// requests it waited for (a single command or a pipeline), Commands the
// commands by name (a pipeline's each, MULTI and EXEC included). Pub/sub
// SUBSCRIBE and UNSUBSCRIBE are not counted here: they are written without
// a wait and show up in Redis's command stats.
type ClientStats struct {
	RoundTrips int64            `json:"round_trips"`
	Commands   map[string]int64 `json:"commands"`
}

// Probe takes Samples of server processes and a Redis.
type Probe struct {
	// PIDs are the server processes (none: no CPU or memory is sampled).
	PIDs []int
	// Redis is asked for INFO cpu and commandstats (nil: not sampled).
	Redis redis.UniversalClient
	// DebugURLs are the servers' debug listeners (http://ADDR), whose
	// /debug/vars report their Redis client's counters.
	DebugURLs []string
}

// Sample takes a snapshot now. Values it cannot read stay zero.
func (p *Probe) Sample(ctx context.Context) Sample {
	s := Sample{At: time.Now(), ServerIO: len(p.PIDs) > 0}
	for _, pid := range p.PIDs {
		if cpu, err := ProcCPU(pid); err == nil {
			s.ServerCPU += cpu
		}
		if rss, peak, err := ProcRSS(pid); err == nil {
			s.ServerRSS += rss
			s.ServerPeakRSS += peak
		}
		r, w, err1 := ProcIO(pid)
		v, iv, err2 := ProcSwitches(pid)
		if err1 != nil || err2 != nil {
			s.ServerIO = false
		}
		s.ServerReads += r
		s.ServerWrites += w
		s.ServerSwitches += v + iv
	}
	if cpu, err := ProcCPU(os.Getpid()); err == nil {
		s.BenchCPU = cpu
	}
	s.sampleBench()
	s.MachineBusy, s.MachineSteal, _ = MachineCPU()
	if p.Redis != nil {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if cc, ok := p.Redis.(*redis.ClusterClient); ok {
			s.sampleCluster(ictx, cc)
		} else if info, err := p.Redis.Info(ictx, "cpu", "commandstats", "stats").Result(); err == nil {
			f := parseInfo(info)
			s.RedisCPU, s.Commands, s.RedisReads, s.RedisWrites = f.cpu, f.cmds, f.reads, f.writes
			s.RedisNodes = 1
		}
	}
	if len(p.DebugURLs) > 0 {
		total := &ClientStats{Commands: map[string]int64{}}
		gs := &GoStats{}
		for _, u := range p.DebugURLs {
			cs, g, err := fetchVars(ctx, u)
			if err != nil {
				total, gs = nil, nil
				break
			}
			total.RoundTrips += cs.RoundTrips
			for k, v := range cs.Commands {
				total.Commands[k] += v
			}
			gs.HeapInuse += g.HeapInuse
			gs.HeapAlloc += g.HeapAlloc
			gs.StackInuse += g.StackInuse
			gs.Sys += g.Sys
			gs.HeapIdle += g.HeapIdle
			gs.HeapRelease += g.HeapRelease
			gs.Goroutines += g.Goroutines
			gs.Mallocs += g.Mallocs
			gs.TotalAlloc += g.TotalAlloc
		}
		s.Client, s.Go = total, gs
	}
	return s
}

// sampleBench reads the load generator's own steady counts.
func (s *Sample) sampleBench() {
	r, w, err1 := ProcIO(os.Getpid())
	v, iv, err2 := ProcSwitches(os.Getpid())
	s.BenchReads, s.BenchWrites, s.BenchSwitches = r, w, v+iv
	s.BenchIO = err1 == nil && err2 == nil
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms) // twice a run: its pause is negligible
	s.BenchMallocs, s.BenchAllocBytes = ms.Mallocs, ms.TotalAlloc
}

// sampleCluster sums INFO cpu over every node of a Redis Cluster, and
// INFO commandstats and the read and write events of INFO stats over its
// masters. A node that does not answer leaves
// the sample without Redis figures: a sum missing a node would read as a
// drop.
func (s *Sample) sampleCluster(ctx context.Context, cc *redis.ClusterClient) {
	var (
		mu            sync.Mutex
		cpu, replica  time.Duration
		nodes         int
		reads, writes int64
		cmds          = map[string]int64{}
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		info, err := n.Info(ctx, "cpu", "commandstats", "stats").Result()
		if err != nil {
			return err
		}
		f := parseInfo(info)
		mu.Lock()
		defer mu.Unlock()
		cpu += f.cpu
		reads += f.reads
		writes += f.writes
		nodes++
		for k, v := range f.cmds {
			cmds[k] += v
		}
		return nil
	})
	if err == nil {
		err = cc.ForEachSlave(ctx, func(ctx context.Context, n *redis.Client) error {
			info, err := n.Info(ctx, "cpu").Result()
			if err != nil {
				return err
			}
			f := parseInfo(info)
			mu.Lock()
			defer mu.Unlock()
			replica += f.cpu
			nodes++
			return nil
		})
	}
	if err != nil {
		return
	}
	s.RedisCPU, s.RedisReplicaCPU, s.RedisNodes, s.Commands = cpu+replica, replica, nodes, cmds
	s.RedisReads, s.RedisWrites = reads, writes
}

func fetchVars(ctx context.Context, base string) (*ClientStats, *GoStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/debug/vars", nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var vars struct {
		Redis      *ClientStats `json:"redis"`
		Goroutines int64        `json:"goroutines"`
		Mem        struct {
			HeapInuse, HeapAlloc, StackInuse, Sys, HeapIdle, HeapReleased int64
			Mallocs, TotalAlloc                                           int64
		} `json:"memstats"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&vars); err != nil {
		return nil, nil, err
	}
	if vars.Redis == nil {
		return nil, nil, fmt.Errorf("%s/debug/vars has no redis counters", base)
	}
	m := vars.Mem
	return vars.Redis, &GoStats{HeapInuse: m.HeapInuse, HeapAlloc: m.HeapAlloc, StackInuse: m.StackInuse, Sys: m.Sys,
		HeapIdle: m.HeapIdle, HeapRelease: m.HeapReleased, Goroutines: vars.Goroutines, Mallocs: m.Mallocs, TotalAlloc: m.TotalAlloc}, nil
}

// infoFields are what the probe reads from INFO output.
type infoFields struct {
	cpu           time.Duration    // used_cpu_user + used_cpu_sys
	cmds          map[string]int64 // calls per command (commandstats)
	reads, writes int64            // total_reads_processed, total_writes_processed
}

// parseInfo reads used CPU, per-command calls and the read and write
// events from INFO output.
func parseInfo(info string) infoFields {
	var cpu float64
	f := infoFields{cmds: map[string]int64{}}
	cmds := f.cmds
	for _, line := range strings.Split(info, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, ":"); ok {
			switch k {
			case "used_cpu_user", "used_cpu_sys":
				x, _ := strconv.ParseFloat(v, 64)
				cpu += x
				continue
			case "total_reads_processed":
				f.reads, _ = strconv.ParseInt(v, 10, 64)
				continue
			case "total_writes_processed":
				f.writes, _ = strconv.ParseInt(v, 10, 64)
				continue
			}
		}
		name, rest, ok := strings.Cut(line, ":")
		cmd, isCmd := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isCmd {
			continue
		}
		for _, field := range strings.Split(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				cmds[cmd] = n
			}
		}
	}
	f.cpu = time.Duration(cpu * float64(time.Second))
	return f
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// ProcCPU returns the user+system CPU time process pid used so far.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after its closing
	// parenthesis are plain. utime and stime are fields 14 and 15.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// MachineCPU returns the CPU time all processors spent busy (everything
// but idle and iowait, steal included) and stolen by the hypervisor, from
// /proc/stat.
func MachineCPU() (busy, steal time.Duration, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0, fmt.Errorf("/proc/stat: empty")
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected format")
	}
	var ticks [8]int64
	for i := range ticks {
		ticks[i], _ = strconv.ParseInt(fields[i+1], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	b := ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6] + ticks[7]
	return time.Duration(b) * time.Second / clockTicks, time.Duration(ticks[7]) * time.Second / clockTicks, nil
}

// ProcRSS returns process pid's resident memory now and at its peak, in
// bytes (VmRSS and VmHWM of /proc/PID/status).
func ProcRSS(pid int) (rss, peak int64, err error) {
	return procStatusKB(pid, "VmRSS", "VmHWM")
}
