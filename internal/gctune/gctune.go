// Package gctune paces the garbage collector of a server process by the
// memory it may use rather than by Go's default alone.
//
// Go collects when the heap has grown by GOGC percent (default 100) of
// what the last collection left live. A server with a small live heap
// (serve under load: tens of MB) then collects very often, each time for
// little: on the bench's embedded scenario the collector and its write
// barriers and assists took a quarter of the server's CPU per turn.
// Tune lets the heap grow by at least a fixed headroom before the next
// collection, and never by less than Go's default: GOGC is set after
// every collection to max(100, headroom / live heap). A large live heap
// (100,000 idle widgets, ~1 GB) keeps GOGC 100, and so the memory it has
// today.
package gctune

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
)

// MinPercent is Go's default GOGC, the least Tune sets.
const MinPercent = 100

// heapMinimum is the runtime's least heap goal at GOGC 100 (4 MiB); it
// scales with GOGC (at GOGC 1000 no collection runs below 40 MiB).
const heapMinimum = 4 << 20

// Percent is the GOGC that lets a heap of live bytes grow by headroom
// bytes before the next collection, and never by less than MinPercent
// of live. For a tiny live heap it is bounded so that the runtime's
// least goal, which grows with GOGC, stays within live + headroom.
func Percent(live, headroom uint64) int {
	p := uint64(MinPercent)
	if live > 0 {
		p = max(p, headroom*100/live)
	}
	return int(max(MinPercent, min(p, (live+headroom)*100/heapMinimum)))
}

// Tune keeps GOGC at Percent(live heap, headroom) from now on, updated
// after every collection, and returns a function that stops it (GOGC
// stays as last set). It does nothing, and returns false, when headroom
// is 0 or the GOGC environment variable is set: the operator chose.
func Tune(headroom uint64) (stop func(), ok bool) {
	if headroom == 0 || os.Getenv("GOGC") != "" {
		return func() {}, false
	}
	t := &tuner{headroom: headroom}
	t.adjust()
	t.arm() // adjusts after the next collection, and so on
	return func() { t.stopped.Store(true) }, true
}

type tuner struct {
	headroom uint64
	stopped  atomic.Bool
	last     int
}

// sentinel is garbage as soon as it is made: its finalizer runs after
// the next collection, adjusts GOGC and makes the next sentinel.
type sentinel struct{ _ [16]byte }

func (t *tuner) arm() {
	s := &sentinel{}
	runtime.SetFinalizer(s, func(*sentinel) {
		if t.stopped.Load() {
			return
		}
		t.adjust()
		t.arm()
	})
}

// adjust sets GOGC for the live heap the last collection left. It runs
// on the finalizer goroutine, one call at a time.
func (t *tuner) adjust() {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[0].Value.Uint64() == 0 {
		return // before the first collection nothing is known yet
	}
	p := Percent(s[0].Value.Uint64(), t.headroom)
	if p != t.last {
		debug.SetGCPercent(p)
		t.last = p
	}
}
