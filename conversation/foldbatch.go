package conversation

import (
	"context"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// The after-turn batcher (issue 13). Since the funnel, every turn ends
// with a fold of its facts, which clears the turn's pending mark in the
// same write when the fold is all the work the turn left, and otherwise a
// clearing of the mark of its own once its work is done. Turns hand both
// to one process-wide batcher instead and wait for it: while a flush is
// under way the turns of every other connection queue up, and the next
// flush writes them all at once, one Funnels.FoldMany (the marks of the
// folds in it) and one PendingMarks.DoneMany (the marks cleared alone),
// for as many turns as waited (at most foldBatchMax). A new flusher
// lingers up to foldWindow first, so that a lone visitor's turns share a
// write too; under load the batches grow by themselves. Turns do not wait
// for the flush on their connection: they hand their item over and go on,
// and what finishes the turn (clearing its mark) waits in the background.
//
// A mark is cleared only with its fold, or when the turn's work went well
// (finishTurn): an item whose fold failed keeps its mark, and the recovery
// sweep folds the conversation again.

// foldBatchMax bounds one flush; foldQueueMax bounds what waits: a turn
// that finds the queue full waits for room (back-pressure).
const (
	foldBatchMax = 256
	foldQueueMax = 4096
)

// foldWindow is how long a flusher waits for more items before its first
// flush (see linger).
var foldWindow = 50 * time.Millisecond

// foldItem is a turn's part of a flush: its fold (no facts and no mark:
// none; fold.Done, the mark cleared with it) or a mark to clear alone.
type foldItem struct {
	fold store.FunnelFold
	mark string
	done chan error // the item's result, once flushed
}

// foldBatcher queues foldItems and flushes them, one flusher at a time.
type foldBatcher struct {
	s    *Service
	room chan struct{} // a token per queued item: the bound
	full chan struct{} // a batch is full: the flusher stops lingering

	mu      sync.Mutex
	queue   []*foldItem
	running bool // a flusher is at work
}

func newFoldBatcher(s *Service) *foldBatcher {
	return &foldBatcher{s: s, room: make(chan struct{}, foldQueueMax), full: make(chan struct{}, 1)}
}

// do hands a turn's fold or mark to the batcher and waits for the flush
// that writes it. It returns its error (nil when the fold was counted,
// the mark cleared, or there was nothing to do).
func (b *foldBatcher) do(ctx context.Context, it foldItem) error {
	done := b.enqueue(it)
	if done == nil {
		return nil
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// The item stays queued and is flushed; the caller stops waiting.
		return ctx.Err()
	}
}

// enqueue hands a turn's fold or mark to the batcher without waiting: the
// channel gets the item's result once it is flushed (nil when there was
// nothing to do: then the channel is nil too).
func (b *foldBatcher) enqueue(it foldItem) <-chan error {
	if len(it.fold.Facts) == 0 || b.s.cfg.Funnels == nil {
		if it.mark == "" {
			it.mark = it.fold.Done // a mark with nothing to count
		}
		it.fold = store.FunnelFold{}
	}
	if len(it.fold.Facts) == 0 && it.mark == "" {
		return nil
	}
	// The queue's own copy: it, whose address is not taken, stays off the
	// heap when there is nothing to queue (most turns' Done).
	q := new(foldItem)
	*q = it
	q.done = make(chan error, 1)
	b.room <- struct{}{} // waits while the queue is full
	b.mu.Lock()
	b.queue = append(b.queue, q)
	start := !b.running
	b.running = true
	full := len(b.queue) >= foldBatchMax
	b.mu.Unlock()
	if full {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
	if start {
		// Run waits for the flusher (Service.Go): a shutdown flushes what
		// is queued; once Run is draining the caller flushes itself.
		b.s.Go(func() {
			b.linger()
			b.flushAll()
		})
	}
	return q.done
}

// linger lets a new flusher wait up to foldWindow for more items (or for
// a full batch, or the end of Run) before its first flush: nobody waits on
// a flush on the visitor's path (a turn's reply is out before its fold is
// queued), so the window costs no visible latency, and a lone visitor's
// turns, which never queue up behind a flush, share one write too.
func (b *foldBatcher) linger() {
	if foldWindow <= 0 {
		return
	}
	t := time.NewTimer(foldWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-b.full:
	case <-b.s.background().Done():
	}
}

// flushAll flushes until the queue is empty.
func (b *foldBatcher) flushAll() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), foldBatchMax)
		if n == 0 {
			b.running = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		b.mu.Unlock()
		for range batch {
			<-b.room
		}
		b.flush(batch)
	}
}

// flush writes one batch: the folds with their marks, then the marks
// cleared alone.
func (b *foldBatcher) flush(batch []*foldItem) {
	s := b.s
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.background()), 30*time.Second)
	defer cancel()
	errs := make([]error, len(batch))
	var folds []store.FunnelFold
	var at []int
	var marks []string
	var markAt []int
	for i, it := range batch {
		if len(it.fold.Facts) > 0 {
			folds = append(folds, it.fold)
			at = append(at, i)
		} else {
			marks = append(marks, it.mark)
			markAt = append(markAt, i)
		}
	}
	if len(folds) > 0 {
		for j, err := range s.cfg.Funnels.FoldMany(ctx, folds, s.funnelKeep()) {
			errs[at[j]] = err // logged by the turn
		}
	}
	if len(marks) > 0 {
		if err := s.store.DoneMany(ctx, marks); err != nil {
			s.log.Warn("clearing turns' pending marks (they will be swept)", "marks", len(marks), "err", err)
			for _, i := range markAt {
				errs[i] = err
			}
		}
	}
	for i, it := range batch {
		it.done <- errs[i]
	}
}

// idle reports whether nothing is queued or being flushed.
func (b *foldBatcher) idle() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.running && len(b.queue) == 0
}
