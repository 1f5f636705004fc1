package embedded_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

// A conversation whose stored facts do not decode fails alone in a
// FoldMany: nothing of it is counted and its pending mark stays, while
// the other folds of the batch (of the same counters) are all counted
// and their marks cleared.
func TestFoldManyBadFactsFailAlone(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	f := embedded.NewFunnels(db)
	s := embedded.NewSessions(db, store.SessionOptions{})
	key := store.FunnelKey{Day: "2030-01-02", Playbook: "qualify", Version: "v1"}
	if err := db.Update(ctx, func(tx *embedded.Tx) error {
		return tx.Put(embedded.K("fnc", "bad"), []byte("{not json"))
	}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	facts := []store.FunnelFact{{Name: "started", Counter: "started", At: at}}
	var folds []store.FunnelFold
	for _, conv := range []string{"a", "bad", "b", "bad", "c"} {
		mark := conv + "|" + fmt.Sprint(len(folds))
		if err := s.Mark(ctx, mark); err != nil {
			t.Fatal(err)
		}
		folds = append(folds, store.FunnelFold{Conv: conv, Key: key, Facts: facts, Done: mark})
	}
	errs := f.FoldMany(ctx, folds, time.Hour)
	for i, err := range errs {
		if bad := folds[i].Conv == "bad"; bad != (err != nil) {
			t.Fatalf("fold %d of %s: %v", i, folds[i].Conv, err)
		}
	}
	rows, err := f.Funnel(ctx, store.FunnelQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Counter != "started" || rows[0].Count != 3 {
		t.Fatalf("rows %+v, want started 3", rows)
	}
	left, err := s.ClaimPending(ctx, time.Now().Add(time.Hour), time.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 2 || left[0].Conversation != "bad" || left[1].Conversation != "bad" {
		t.Fatalf("marks left %+v, want the two of bad", left)
	}
	// Fold alone fails the same way and writes nothing.
	if err := f.Fold(ctx, "bad", key, facts, time.Hour, ""); err == nil {
		t.Fatal("Fold of undecodable facts: no error")
	}
}

// BenchmarkFoldMany is one flush of the fold batcher under load: 100
// conversations' turns, each with a fact or two of the same day's
// counters, their facts already stored, each clearing its mark.
func BenchmarkFoldMany(b *testing.B) {
	ctx := context.Background()
	db, err := embedded.Open(b.TempDir(), embedded.Options{SweepEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	f := embedded.NewFunnels(db)
	s := embedded.NewSessions(db, store.SessionOptions{})
	key := store.FunnelKey{Day: "2030-01-02", Playbook: "qualify", Version: "v1"}
	at := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	const n = 100
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		folds := make([]store.FunnelFold, n)
		for j := range folds {
			conv := fmt.Sprintf("conv%05d", (i*n+j)%5000)
			step := fmt.Sprint(i % 7)
			folds[j] = store.FunnelFold{Conv: conv, Key: key, Done: conv + "|" + step, Facts: []store.FunnelFact{
				{Name: "started", Counter: "started", At: at},
				{Name: "asked|" + step, Counter: "asked|" + step, At: at},
				{Name: "answered|" + step, Counter: "answered|" + step, At: at.Add(time.Second), Since: "asked|" + step, Timing: "time|" + step},
			}}
			if err := s.Mark(ctx, folds[j].Done); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		for _, err := range f.FoldMany(ctx, folds, time.Hour) {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
}
