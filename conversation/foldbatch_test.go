package conversation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// gatedFunnels holds its first FoldMany until open is closed, fails the
// folds of conversation "bad", and clears the marks of the others.
type gatedFunnels struct {
	store.Funnels
	entered chan struct{} // closed when the first FoldMany is under way
	open    chan struct{}
	mu      sync.Mutex
	batches [][]string // the conversations of each FoldMany
	cleared [][]string // the marks each FoldMany cleared
}

func (g *gatedFunnels) FoldMany(ctx context.Context, folds []store.FunnelFold, keep time.Duration) []error {
	g.mu.Lock()
	first := len(g.batches) == 0
	g.batches = append(g.batches, nil)
	g.cleared = append(g.cleared, nil)
	g.mu.Unlock()
	if first {
		close(g.entered)
		<-g.open
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(g.batches) - 1
	errs := make([]error, len(folds))
	for i, f := range folds {
		g.batches[n] = append(g.batches[n], f.Conv)
		if f.Conv == "bad" {
			errs[i] = errors.New("the funnel's node is down")
		} else if f.Done != "" {
			g.cleared[n] = append(g.cleared[n], f.Done)
		}
	}
	return errs
}

// doneMarks records DoneMany's marks.
type doneMarks struct {
	store.SessionStore
	mu    sync.Mutex
	calls [][]string
}

func (d *doneMarks) DoneMany(ctx context.Context, marks []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, slices.Clone(marks))
	return nil
}

// TestFoldBatcherSharesAFlushAndKeepsFailedMarks: the turns that queue
// while a flush is under way go in the next flush, one FoldMany (their
// folds with their marks) and one DoneMany (the marks cleared alone) for
// all of them; a turn whose fold failed keeps its mark; each turn gets its
// own result.
func TestFoldBatcherSharesAFlushAndKeepsFailedMarks(t *testing.T) {
	g := &gatedFunnels{entered: make(chan struct{}), open: make(chan struct{})}
	d := &doneMarks{}
	s := &Service{cfg: Config{Funnels: g, IdleTTL: time.Hour, RecoverAfter: time.Minute}, store: d,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	s.folds = newFoldBatcher(s)
	ctx := context.Background()
	facts := []store.FunnelFact{{Name: "started", Counter: "started", At: time.Now()}}
	item := func(conv string, clear bool) foldItem {
		it := foldItem{fold: store.FunnelFold{Conv: conv, Facts: facts}}
		if clear { // the fold is all the turn's work
			it.fold.Done = conv + "|m"
		}
		return it
	}
	results := make(chan string, 20)
	run := func(it foldItem) {
		err := s.folds.do(ctx, it)
		results <- fmt.Sprintf("%s %v", it.fold.Conv, err)
	}
	go run(item("first", true))
	<-g.entered
	// Queued while the first flush waits: ten good turns, one whose fold
	// fails, one with more work than its fold, a mark cleared alone and a
	// mark with nothing to count.
	for i := range 10 {
		go run(item(fmt.Sprintf("c%d", i), true))
	}
	go run(item("bad", true))
	go run(item("work-failed", false))
	go run(foldItem{mark: "alone|m", fold: store.FunnelFold{Conv: "alone"}})
	go run(foldItem{fold: store.FunnelFold{Conv: "nofacts", Done: "nofacts|m"}})
	deadline := time.Now().Add(30 * time.Second) // guards against a hang only
	for {
		s.folds.mu.Lock()
		n := len(s.folds.queue)
		s.folds.mu.Unlock()
		if n == 14 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d turns queued, want 14", n)
		}
		time.Sleep(time.Millisecond)
	}
	close(g.open)
	var got []string
	for range 15 {
		got = append(got, <-results)
	}
	slices.Sort(got)
	for _, r := range got {
		want := " <nil>"
		if r[:3] == "bad" {
			want = " the funnel's node is down"
		}
		if r[len(r)-len(want):] != want {
			t.Errorf("result %q", r)
		}
	}
	if len(g.batches) != 2 || len(g.batches[0]) != 1 || len(g.batches[1]) != 12 {
		t.Fatalf("FoldMany batches %v, want the first turn alone, then the 12 with facts that queued", g.batches)
	}
	cleared := slices.Sorted(slices.Values(g.cleared[1]))
	want := []string{"c0|m", "c1|m", "c2|m", "c3|m", "c4|m", "c5|m", "c6|m", "c7|m", "c8|m", "c9|m"}
	if !slices.Equal(cleared, want) || !slices.Equal(g.cleared[0], []string{"first|m"}) {
		t.Fatalf("folds cleared %v then %v, want first|m then %v (not bad's, not work-failed's)", g.cleared[0], cleared, want)
	}
	if len(d.calls) != 1 || !slices.Equal(slices.Sorted(slices.Values(d.calls[0])), []string{"alone|m", "nofacts|m"}) {
		t.Fatalf("DoneMany calls %v, want one with alone|m and nofacts|m", d.calls)
	}
	// The flusher stops once the queue is empty, its room given back.
	for {
		s.folds.mu.Lock()
		running, queued := s.folds.running, len(s.folds.queue)
		s.folds.mu.Unlock()
		if !running {
			if queued != 0 || len(s.folds.room) != 0 {
				t.Fatalf("the flusher stopped with %d queued, %d tokens taken", queued, len(s.folds.room))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the flusher did not stop")
		}
		time.Sleep(time.Millisecond)
	}
}
