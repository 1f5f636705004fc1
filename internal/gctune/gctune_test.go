package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{20 * mb, 128 * mb, 640},   // serve under the bench: 640 %
		{128 * mb, 128 * mb, 100},  // as much live as headroom: Go's default
		{1024 * mb, 128 * mb, 100}, // 100,000 idle widgets: never below the default
		{0, 128 * mb, 100},         // nothing known yet: the default
		{1 * mb, 128 * mb, 3225},   // bounded: the runtime's least goal (4 MiB x 32.25) is live + headroom
		{2 * mb, 1 * mb, 100},
		{64 * mb, 100 * mb, 156}, // rounded down
		{200 * mb, 256 * mb, 128},
	} {
		if got := Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d MB, %d MB) = %d, want %d", c.live/mb, c.headroom/mb, got, c.want)
		}
	}
}

func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func live() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// After each collection GOGC follows the live heap: 64 MB kept alive
// lowers it from what a near-empty heap had, and letting it go raises it
// again.
func TestTuneFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const headroom = 256 << 20
	stop, ok := Tune(headroom)
	if !ok {
		t.Fatal("Tune did not start")
	}
	defer stop()
	// waitFor collects until GOGC is what the live heap asks for (the
	// finalizer runs after a collection, on its own goroutine); the
	// deadline only guards against a hang.
	waitFor := func(what string, cond func(p int64) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC()
			p := gogc()
			if cond(p) && p == int64(Percent(live(), headroom)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOGC %d, live %d MB, want %d", what, p, live()>>20, Percent(live(), headroom))
			}
			runtime.Gosched()
		}
	}
	waitFor("small heap", func(p int64) bool { return p > 400 })
	keep := make([][]byte, 64)
	for i := range keep {
		keep[i] = make([]byte, 1<<20)
	}
	waitFor("64 MB live", func(p int64) bool { return p <= 400 })
	runtime.KeepAlive(keep)
	keep = nil
	waitFor("64 MB let go", func(p int64) bool { return p > 400 })
}

// GOGC set by the operator wins: Tune does nothing.
func TestTuneLeavesAGivenGOGC(t *testing.T) {
	t.Setenv("GOGC", "150")
	if _, ok := Tune(128 << 20); ok {
		t.Fatal("Tune started although GOGC is set")
	}
	if _, ok := Tune(0); ok {
		t.Fatal("Tune started with no headroom")
	}
}
