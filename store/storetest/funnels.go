package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Funnels runs the funnel rollup tests; open returns a fresh, empty engine
// and, called again, another instance on the same data (a second process).
func Funnels(t *testing.T, open func(t *testing.T) func() store.Funnels) {
	ctx := context.Background()
	t0 := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	key := store.FunnelKey{Day: "2030-01-02", Playbook: "qualify", Version: "v1"}
	facts := func(answerAfter time.Duration) []store.FunnelFact {
		return []store.FunnelFact{
			{Name: "started", Counter: "started", At: t0},
			{Name: "reached|hello", Counter: "reached|hello", At: t0},
			{Name: "asked|hello", Counter: "asked|hello", At: t0},
			{Name: "answered|hello", Counter: "answered|hello", At: t0.Add(answerAfter), Since: "asked|hello", Timing: "time|hello"},
		}
	}
	counts := func(t *testing.T, f store.Funnels, q store.FunnelQuery) map[string]int64 {
		t.Helper()
		rows, err := f.Funnel(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, r := range rows {
			k := r.Day + " " + r.Playbook + " " + r.Version + " " + r.Variant + " " + r.Counter
			if _, dup := out[k]; dup {
				t.Fatalf("counter %q returned twice", k)
			}
			out[k] = r.Count
		}
		return out
	}
	t.Run("EachFactOncePerConversation", func(t *testing.T) {
		inst := open(t)
		f := inst()
		for range 3 { // a retry, and the sweep folding the transcript again
			if err := f.Fold(ctx, "c1", key, facts(1500*time.Millisecond), time.Hour, ""); err != nil {
				t.Fatal(err)
			}
		}
		// The answer folded alone (its turn's fold) counts nothing new.
		if err := f.Fold(ctx, "c1", key, facts(9 * time.Second)[3:], time.Hour, ""); err != nil {
			t.Fatal(err)
		}
		got := counts(t, inst(), store.FunnelQuery{})
		want := map[string]int64{
			"2030-01-02 qualify v1  started":         1,
			"2030-01-02 qualify v1  reached|hello":   1,
			"2030-01-02 qualify v1  asked|hello":     1,
			"2030-01-02 qualify v1  answered|hello":  1,
			"2030-01-02 qualify v1  time|hello|2000": 1,
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("counters\n got %v\nwant %v", got, want)
		}
	})
	t.Run("AnswerBeforeItsQuestionCountsNoTime", func(t *testing.T) {
		inst := open(t)
		f := inst()
		all := facts(time.Second)
		if err := f.Fold(ctx, "c1", key, all[3:], time.Hour, ""); err != nil {
			t.Fatal(err)
		}
		if err := f.Fold(ctx, "c1", key, all[:3], time.Hour, ""); err != nil {
			t.Fatal(err)
		}
		got := counts(t, inst(), store.FunnelQuery{})
		if got["2030-01-02 qualify v1  answered|hello"] != 1 || got["2030-01-02 qualify v1  asked|hello"] != 1 {
			t.Fatalf("counters %v", got)
		}
		for k := range got {
			if containsTime(k) {
				t.Fatalf("a time counted without its question's time: %v", got)
			}
		}
	})
	t.Run("FoldManyCountsEachFoldAsFoldWould", func(t *testing.T) {
		inst := open(t)
		f := inst()
		other := store.FunnelKey{Day: "2030-01-03", Playbook: "qualify", Version: "v2", Variant: "B"}
		var folds []store.FunnelFold
		for i := range 40 { // many conversations, on every shard
			k := key
			if i%4 == 0 {
				k = other
			}
			folds = append(folds, store.FunnelFold{Conv: fmt.Sprintf("m%02d", i), Key: k, Facts: facts(time.Duration(i) * time.Second)})
		}
		// The same conversation twice in one batch (two of its turns), and a
		// fold with nothing to count.
		folds = append(folds, store.FunnelFold{Conv: "m01", Key: key, Facts: facts(time.Hour)}, store.FunnelFold{Conv: "m99", Key: key})
		errs := f.FoldMany(ctx, folds, time.Hour)
		if len(errs) != len(folds) {
			t.Fatalf("%d results for %d folds", len(errs), len(folds))
		}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("fold %d: %v", i, err)
			}
		}
		// Again, as a retry of the whole batch would: nothing new.
		for i, err := range f.FoldMany(ctx, folds[:10], time.Hour) {
			if err != nil {
				t.Fatalf("fold %d again: %v", i, err)
			}
		}
		got := counts(t, inst(), store.FunnelQuery{})
		if n := got["2030-01-02 qualify v1  started"]; n != 30 {
			t.Fatalf("started on day 2, v1: %d, want 30 (%v)", n, got)
		}
		if n := got["2030-01-03 qualify v2 B started"]; n != 10 {
			t.Fatalf("started on day 3, v2 B: %d, want 10 (%v)", n, got)
		}
		if n := got["2030-01-02 qualify v1  answered|hello"]; n != 30 {
			t.Fatalf("answered on day 2: %d, want 30 (%v)", n, got)
		}
		// m01 answered after 1 s (bucket 1000), its second fold's hour is
		// not counted; m00 after 0 s, m04 after 4 s, m08 after 8 s (v2 B).
		if n := got["2030-01-02 qualify v1  time|hello|1000"]; n != 1 {
			t.Fatalf("bucket 1000 on day 2: %d, want 1 (%v)", n, got)
		}
		if n := got["2030-01-02 qualify v1  time|hello|inf"]; n != 0 {
			t.Fatalf("a conversation's second fold counted its time: %v", got)
		}
		for bucket, want := range map[string]int64{"500": 1, "5000": 1, "10000": 1} {
			if n := got["2030-01-03 qualify v2 B time|hello|"+bucket]; n != want {
				t.Fatalf("bucket %s: %d, want %d (%v)", bucket, n, want, got)
			}
		}
		// What FoldMany counted, Fold knows: nothing new.
		if err := f.Fold(ctx, "m05", key, facts(time.Second), time.Hour, ""); err != nil {
			t.Fatal(err)
		}
		if again := counts(t, inst(), store.FunnelQuery{}); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatalf("a Fold after FoldMany counted again\n got %v\nwant %v", again, got)
		}
		if errs := f.FoldMany(ctx, nil, time.Hour); len(errs) != 0 {
			t.Fatalf("no folds: %v", errs)
		}
	})
	t.Run("ManyConversationsTwoProcessesAtOnce", func(t *testing.T) {
		inst := open(t)
		a, b := inst(), inst()
		other := store.FunnelKey{Day: "2030-01-03", Playbook: "qualify", Version: "v2", Variant: "B"}
		var wg sync.WaitGroup
		errs := make(chan error, 400)
		for i := range 100 {
			k := key
			if i%4 == 0 {
				k = other
			}
			conv := fmt.Sprintf("conv%03d", i)
			for _, f := range []store.Funnels{a, b} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs <- f.Fold(ctx, conv, k, facts(time.Duration(i)*time.Second), time.Hour, "")
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got := counts(t, inst(), store.FunnelQuery{})
		if n := got["2030-01-02 qualify v1  started"]; n != 75 {
			t.Fatalf("started on day 2, v1: %d, want 75 (%v)", n, got)
		}
		if n := got["2030-01-03 qualify v2 B started"]; n != 25 {
			t.Fatalf("started on day 3, v2 B: %d, want 25", n)
		}
		var timed int64
		for k, n := range got {
			if containsTime(k) {
				timed += n
			}
		}
		if timed != 100 {
			t.Fatalf("%d answer times, want 100: %v", timed, got)
		}
		// 0-9 s in the v2 day-3 rows: i = 0, 4, 8 -> buckets 500, 5000, 10000.
		for bucket, want := range map[string]int64{"500": 1, "5000": 1, "10000": 1} {
			if n := got["2030-01-03 qualify v2 B time|hello|"+bucket]; n != want {
				t.Fatalf("bucket %s: %d, want %d (%v)", bucket, n, want, got)
			}
		}
		since := counts(t, inst(), store.FunnelQuery{Since: "2030-01-03"})
		if since["2030-01-03 qualify v2 B started"] != 25 || since["2030-01-02 qualify v1  started"] != 0 {
			t.Fatalf("since day 3: %v", since)
		}
		if none := counts(t, inst(), store.FunnelQuery{Playbook: "other"}); len(none) != 0 {
			t.Fatalf("another playbook: %v", none)
		}
	})
}

func containsTime(k string) bool { return strings.Contains(k, " time|") }

// FunnelCounters sums f's whole rollup by counter, over every row.
func FunnelCounters(t *testing.T, f store.Funnels) map[string]int64 {
	t.Helper()
	rows, err := f.Funnel(context.Background(), store.FunnelQuery{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Counter] += r.Count
	}
	return out
}

// CountedFold is a Counted fold under key of one fact a counter: what a
// caller that knew from the session which facts are new sends.
func CountedFold(key store.FunnelKey, counters ...string) *store.FunnelFold {
	fold := &store.FunnelFold{Key: key, Counted: true}
	for _, c := range counters {
		fold.Facts = append(fold.Facts, store.FunnelFact{Counter: c})
	}
	return fold
}
