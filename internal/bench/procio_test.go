package bench

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// TestProcIOCountsReadsAndWrites: ProcIO counts this process's read and
// write system calls (100 one-byte writes to a pipe and 100 reads of it
// are at least 100 of each), and ProcSwitches reads every thread's
// context switches.
func TestProcIOCountsReadsAndWrites(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	reads0, writes0, err := ProcIO(os.Getpid())
	if err != nil {
		t.Skipf("no /proc/PID/io here: %v", err)
	}
	b := []byte{1}
	for range 100 {
		if _, err := w.Write(b); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Read(b); err != nil {
			t.Fatal(err)
		}
	}
	reads1, writes1, err := ProcIO(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if d := writes1 - writes0; d < 100 {
		t.Errorf("%d write system calls counted for 100 writes", d)
	}
	if d := reads1 - reads0; d < 100 {
		t.Errorf("%d read system calls counted for 100 reads", d)
	}
	v, iv, err := ProcSwitches(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if v+iv <= 0 {
		t.Errorf("context switches %d + %d: a process with several threads has waited at least once", v, iv)
	}
}

// TestResourcesPerTurnSyscalls: the system calls and context switches of
// a window divided by its turns, printed by the report and the comparison.
func TestResourcesPerTurnSyscalls(t *testing.T) {
	at := time.Now()
	a := Sample{At: at, ServerIO: true, ServerReads: 1000, ServerWrites: 500, ServerSwitches: 100}
	b := Sample{At: at.Add(10 * time.Second), ServerIO: true, ServerReads: 4000, ServerWrites: 2500, ServerSwitches: 2100}
	res := ResourcesBetween(a, b, 1000)
	if sc := res.Syscalls; sc == nil || *sc != (SyscallsPerTurn{Reads: 3, Writes: 2, Switches: 2}) {
		t.Fatalf("syscalls per turn %+v, want 3 reads, 2 writes, 2 switches", sc)
	}
	if ResourcesBetween(Sample{At: at}, b, 1000).Syscalls != nil {
		t.Fatal("syscalls per turn from a sample that did not read them")
	}
	run := func(round int, engine string, reads float64) CompareRun {
		l := &LoadReport{Result: Result{Turns: 1000, TurnsPerSec: 100, Window: 10 * time.Second}}
		l.Syscalls = &SyscallsPerTurn{Reads: reads, Writes: 2, Switches: 1}
		return CompareRun{Round: round, Engine: engine, Load: l}
	}
	c := &Comparison{Engines: []string{"redis", "reference"}, Runs: []CompareRun{run(1, "redis", 2), run(1, "reference", 6)}}
	var out bytes.Buffer
	c.WriteText(&out)
	for _, want := range []string{
		"            server 4.00 read+write system calls, 1.00 context switches per turn\n",
		"  ratio     redis / reference server read+write calls/turn, round by round: 0.50 (median 0.50)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
	}
	rep := &Report{Load: &LoadReport{Result: Result{Turns: 1000}, Resources: res}}
	out.Reset()
	rep.WriteText(&out)
	if want := "  server calls   3.00 read and 2.00 write system calls, 2.00 context switches per turn"; !strings.Contains(out.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, out.String())
	}
}

// TestProcRSSPartsInBytes: the kB fields of /proc/PID/status come back in
// bytes (statusPair, shared with ProcSwitches): this process has
// anonymous memory, a whole number of kB.
func TestProcRSSPartsInBytes(t *testing.T) {
	anon, file, err := ProcRSSParts(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if anon < 1<<20 || anon%1024 != 0 || file%1024 != 0 {
		t.Errorf("RssAnon %d, RssFile %d bytes: want at least 1 MiB of anonymous memory, each a whole number of KiB", anon, file)
	}
}

// TestBenchSteadyCounts (issue 13, twelfth round): a sample reads the
// load generator's own read and write system calls, context switches and
// heap allocations; a window divides them by its turns, and the report
// and the comparison print them beside the server's.
func TestBenchSteadyCounts(t *testing.T) {
	p := &Probe{}
	a := p.Sample(t.Context())
	sink := make([][]byte, 0, 100)
	for range 100 {
		sink = append(sink, make([]byte, 64))
	}
	b := p.Sample(t.Context())
	_ = sink
	if !a.BenchIO || !b.BenchIO {
		t.Skip("no /proc/PID/io here")
	}
	if b.BenchReads <= a.BenchReads || b.BenchMallocs < a.BenchMallocs+100 {
		t.Fatalf("the bench's reads %d -> %d (a sample reads /proc files), allocations %d -> %d (100 made between)",
			a.BenchReads, b.BenchReads, a.BenchMallocs, b.BenchMallocs)
	}
	at := time.Now()
	a = Sample{At: at, BenchIO: true, BenchReads: 100, BenchWrites: 50, BenchSwitches: 10, BenchMallocs: 1000, BenchAllocBytes: 10000}
	b = Sample{At: at.Add(time.Second), BenchIO: true, BenchReads: 380, BenchWrites: 190, BenchSwitches: 110, BenchMallocs: 9900, BenchAllocBytes: 670000}
	res := ResourcesBetween(a, b, 100)
	if sc := res.BenchSyscalls; sc == nil || *sc != (SyscallsPerTurn{Reads: 2.8, Writes: 1.4, Switches: 1}) || res.BenchAllocs != 89 || res.BenchAllocBytes != 6600 {
		t.Fatalf("the bench per turn: %+v, %v allocations, %v bytes; want 2.8 reads, 1.4 writes, 1 switch, 89, 6600", sc, res.BenchAllocs, res.BenchAllocBytes)
	}
	var out bytes.Buffer
	(&Report{Load: &LoadReport{Result: Result{Turns: 100}, Resources: res}}).WriteText(&out)
	for _, want := range []string{
		"  bench calls    2.80 read and 1.40 write system calls, 1.00 context switches per turn",
		"  bench heap     89.0 allocations, 6600 bytes a turn",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	run := func(engine string, allocs float64) CompareRun {
		l := &LoadReport{Result: Result{Turns: 100, TurnsPerSec: 100, Window: time.Second}, Resources: res}
		l.BenchAllocs = allocs
		return CompareRun{Round: 1, Engine: engine, Load: l}
	}
	c := &Comparison{Engines: []string{"redis", "reference"}, Runs: []CompareRun{run("redis", 90), run("reference", 88)}}
	out.Reset()
	c.WriteText(&out)
	for _, want := range []string{
		"            bench (load generator) 4.20 read+write system calls, 1.00 context switches, 90.0 heap allocations per turn\n",
		"  ratio     redis / reference bench allocations/turn, round by round: 1.02 (median 1.02)\n",
		"  ratio     redis / reference bench read+write calls/turn, round by round: 1.00 (median 1.00)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("comparison lacks %q:\n%s", want, out.String())
		}
	}
}
