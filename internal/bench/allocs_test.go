package bench

import (
	"testing"
	"time"
)

// TestServerAllocationsPerTurn: the servers' heap allocations and bytes
// between the window's two samples (runtime.MemStats Mallocs and
// TotalAlloc, summed over the servers) are divided by the window's turns;
// unknown (no /debug/vars) is 0.
func TestServerAllocationsPerTurn(t *testing.T) {
	at := time.Unix(1800000000, 0)
	a := Sample{At: at, Go: &GoStats{Mallocs: 1_000, TotalAlloc: 50_000}}
	b := Sample{At: at.Add(10 * time.Second), Go: &GoStats{Mallocs: 41_000, TotalAlloc: 4_050_000}}
	r := ResourcesBetween(a, b, 200)
	if r.ServerAllocs != 200 || r.ServerAllocBytes != 20_000 {
		t.Errorf("%v allocations and %v bytes a turn, want 200 and 20000", r.ServerAllocs, r.ServerAllocBytes)
	}
	if r := ResourcesBetween(Sample{At: at}, Sample{At: at.Add(time.Second)}, 200); r.ServerAllocs != 0 || r.ServerAllocBytes != 0 {
		t.Errorf("without /debug/vars: %v allocations, %v bytes", r.ServerAllocs, r.ServerAllocBytes)
	}
}

// TestRedisRequestsPerTurn: Redis's read and write events between the
// window's two samples (INFO stats, summed over a cluster's masters) are
// divided by the window's turns, and the INFO fields they come from are
// read; unknown is 0.
func TestRedisRequestsPerTurn(t *testing.T) {
	f := parseInfo("# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:0.5\r\n# Stats\r\ntotal_reads_processed:1234\r\ntotal_writes_processed:2345\r\n# Commandstats\r\ncmdstat_evalsha:calls=7,usec=70,usec_per_call=10.00\r\n")
	if f.reads != 1234 || f.writes != 2345 || f.cpu != 2*time.Second || f.cmds["evalsha"] != 7 {
		t.Errorf("parsed %+v", f)
	}
	at := time.Unix(1800000000, 0)
	a := Sample{At: at, Commands: map[string]int64{"evalsha": 10}, RedisReads: 100, RedisWrites: 150}
	b := Sample{At: at.Add(10 * time.Second), Commands: map[string]int64{"evalsha": 210}, RedisReads: 140, RedisWrites: 230}
	r := ResourcesBetween(a, b, 200).Redis
	if r == nil || r.Requests != 0.2 || r.Replies != 0.4 {
		t.Fatalf("per turn: %+v, want 0.2 requests and 0.4 writes", r)
	}
	a.RedisReads, b.RedisReads = 0, 0
	if r := ResourcesBetween(a, b, 200).Redis; r.Requests != 0 || r.Replies != 0 {
		t.Errorf("without INFO stats: %v requests, %v writes, want 0", r.Requests, r.Replies)
	}
}
