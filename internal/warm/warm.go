// Package warm runs short tasks on goroutines that outlive them, so that
// a task finds a stack already grown.
//
// A goroutine starts with a small stack; a visitor's turn (the engine's
// step, the store's pipeline, JSON) needs tens of KB, so each turn run on
// a new goroutine grew its stack again, copying it several times on the
// way (runtime.newstack was 5-13 % of serve's CPU under the 50-visitor
// bench, docs/benchmarks.md). A Pool's workers keep their stacks between
// tasks; a worker that waits Idle for a task ends and gives its stack
// back. There are never more workers than tasks running at once.
package warm

import (
	"sync"
	"sync/atomic"
	"time"
)

// Idle is how long a worker waits for its next task before it ends.
const Idle = 10 * time.Second

// Pool runs tasks on its workers. The zero value is not usable; use New.
type Pool struct {
	work chan *task
	idle time.Duration
	// waiting counts the workers that wait for a task and are promised
	// to nobody: a task handed to one of them by a blocking send is
	// taken, and a worker leaves only by taking one off the count.
	waiting atomic.Int64
}

type task struct {
	fn   func()
	done chan struct{} // nil: nobody waits
}

// New returns a pool whose workers end after waiting idle for a task.
func New(idle time.Duration) *Pool {
	return &Pool{work: make(chan *task), idle: idle}
}

var waited = sync.Pool{New: func() any { return &task{done: make(chan struct{}, 1)} }}

// Run runs fn on a waiting worker, or on a new one when none waits, and
// returns once fn has returned.
func (p *Pool) Run(fn func()) {
	t := waited.Get().(*task)
	t.fn = fn
	p.start(t)
	<-t.done
	t.fn = nil
	waited.Put(t)
}

// Go runs fn on a waiting worker, or on a new one when none waits, and
// returns at once.
func (p *Pool) Go(fn func()) { p.start(&task{fn: fn}) }

func (p *Pool) start(t *task) {
	if p.claim() {
		p.work <- t
		return
	}
	go p.worker(t)
}

// claim takes one waiting worker off the count; false when none waits.
func (p *Pool) claim() bool {
	for {
		n := p.waiting.Load()
		if n == 0 {
			return false
		}
		if p.waiting.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

func (p *Pool) worker(t *task) {
	timer := time.NewTimer(p.idle)
	defer timer.Stop()
	for {
		t.fn()
		// Counted as waiting before the task's caller hears it is done,
		// so that the caller's next task finds this worker.
		p.waiting.Add(1)
		if t.done != nil {
			t.done <- struct{}{}
		}
		timer.Reset(p.idle)
		select {
		case t = <-p.work:
		case <-timer.C:
			if p.claim() { // nobody was promised this worker
				return
			}
			t = <-p.work // a task is on its way to a waiting worker
		}
	}
}
