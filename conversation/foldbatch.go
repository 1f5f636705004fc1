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
// for as many turns as waited (at most foldBatchMax). No timer: a lone
// turn is flushed at once, and the batches grow with the load by
// themselves.
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

	mu      sync.Mutex
	queue   []*foldItem
	running bool // a flusher is at work
}

func newFoldBatcher(s *Service) *foldBatcher {
	return &foldBatcher{s: s, room: make(chan struct{}, foldQueueMax)}
}

// do hands a turn's fold or mark to the batcher and waits for the flush
// that writes it. It returns its error (nil when the fold was counted,
// the mark cleared, or there was nothing to do).
func (b *foldBatcher) do(ctx context.Context, it foldItem) error {
	if len(it.fold.Facts) == 0 || b.s.cfg.Funnels == nil {
		if it.mark == "" {
			it.mark = it.fold.Done // a mark with nothing to count
		}
		it.fold = store.FunnelFold{}
	}
	if len(it.fold.Facts) == 0 && it.mark == "" {
		return nil
	}
	it.done = make(chan error, 1)
	b.room <- struct{}{} // waits while the queue is full
	b.mu.Lock()
	b.queue = append(b.queue, &it)
	start := !b.running
	b.running = true
	b.mu.Unlock()
	if start {
		// Run waits for the flusher (Service.Go): a shutdown flushes what
		// is queued; once Run is draining the caller flushes itself.
		b.s.Go(b.flushAll)
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		// The item stays queued and is flushed; the caller stops waiting.
		return ctx.Err()
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
