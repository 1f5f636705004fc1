package warm

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

// Tasks run, Run waits for its task, and a worker that finished a task
// takes the next one instead of a new goroutine starting.
func TestRunReusesAWorker(t *testing.T) {
	p := New(Idle)
	ran := 0
	p.Run(func() { ran++ })
	before := runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		p.Run(func() { ran++ })
	}
	if ran != 101 {
		t.Fatalf("ran %d tasks, want 101", ran)
	}
	if after := runtime.NumGoroutine(); after > before {
		t.Fatalf("%d goroutines after 100 more tasks, %d before: workers are not reused", after, before)
	}
}

// A worker that waited its idle time ends; the next task starts another.
func TestIdleWorkersEnd(t *testing.T) {
	p := New(time.Nanosecond)
	p.Run(func() {})
	for p.waiting.Load() != 0 { // the worker has left
		runtime.Gosched()
	}
	ran := false
	p.Run(func() { ran = true })
	if !ran {
		t.Fatal("the task after an idle worker left did not run")
	}
}

func TestGoRunsEveryTaskAtOnce(t *testing.T) {
	p := New(Idle)
	var wg sync.WaitGroup
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		p.Go(func() {
			defer wg.Done()
			started <- struct{}{}
			<-release
		})
	}
	for i := 0; i < 10; i++ { // all ten run at once: none waits for another
		<-started
	}
	close(release)
	wg.Wait()
}

// Stacks stay grown: a deep task run again on a worker does not grow a
// new stack (the point of the pool).
func BenchmarkDeepTask(b *testing.B) {
	deep := func() { recurse(64) }
	b.Run("new goroutine", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			done := make(chan struct{})
			go func() { deep(); close(done) }()
			<-done
		}
	})
	b.Run("warm pool", func(b *testing.B) {
		p := New(Idle)
		for i := 0; i < b.N; i++ {
			p.Run(deep)
		}
	})
}

//go:noinline
func recurse(n int) byte {
	var buf [256]byte
	buf[n%256] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return recurse(n-1) + buf[n%256]
}
