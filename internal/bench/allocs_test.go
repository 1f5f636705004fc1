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
