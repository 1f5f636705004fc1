package bench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ProcIO returns how many read and write system calls process pid made so
// far, over all its threads: syscr and syscw of /proc/PID/io. They count
// read(2), write(2) and their vector and positioned forms, on sockets as
// on files (a websocket frame, a Redis reply, a log line, a read that
// found nothing yet); not recvfrom, sendmsg, epoll or futex calls.
func ProcIO(pid int) (reads, writes int64, err error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := 0
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "syscr" && k != "syscw") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/io %s: %v", pid, k, err)
		}
		if k == "syscr" {
			reads = n
		} else {
			writes = n
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("/proc/%d/io: no syscr and syscw", pid)
	}
	return reads, writes, nil
}

// ProcSwitches returns the context switches of process pid's threads so
// far, voluntary (a thread that waits: a futex, epoll, a sleep) and not (a
// thread preempted), summed over /proc/PID/task/*/status. A thread that
// has ended is no longer counted; Go's threads seldom end.
func ProcSwitches(pid int) (voluntary, involuntary int64, err error) {
	tasks, err := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/status")
	if err != nil {
		return 0, 0, err
	}
	if len(tasks) == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/task: no threads", pid)
	}
	for _, path := range tasks {
		v, iv, err := switchesOf(path)
		if err != nil {
			continue // the thread ended meanwhile
		}
		voluntary += v
		involuntary += iv
	}
	return voluntary, involuntary, nil
}

// switchesOf reads a thread's voluntary and involuntary context switches
// from its /proc status file.
func switchesOf(path string) (voluntary, involuntary int64, err error) {
	return statusPair(path, "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")
}

// SyscallsPerTurn are the server processes' system calls and context
// switches of a window divided by its turns: steady counts, where the
// CPU time of a system call depends on what else runs on the machine.
type SyscallsPerTurn struct {
	Reads  float64 `json:"reads"`  // read system calls (syscr)
	Writes float64 `json:"writes"` // write system calls (syscw)
	// Switches are context switches, voluntary and not: the wake-ups and
	// waits of the server's threads.
	Switches float64 `json:"context_switches"`
}

// syscallsBetween divides the server's system calls between two samples
// by turns; nil when they were not read.
func syscallsBetween(a, b Sample, turns int) *SyscallsPerTurn {
	if !a.ServerIO || !b.ServerIO || turns <= 0 {
		return nil
	}
	per := func(x, y int64) float64 { return float64(y-x) / float64(turns) }
	return &SyscallsPerTurn{
		Reads:    per(a.ServerReads, b.ServerReads),
		Writes:   per(a.ServerWrites, b.ServerWrites),
		Switches: per(a.ServerSwitches, b.ServerSwitches),
	}
}
