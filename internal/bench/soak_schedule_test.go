package bench

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// TestBreaksFollowTheSchedule: the soak's restarts are counted by the
// schedule, not by ticks. Each simulated restart here takes longer than
// the interval between restarts (a slow restart on a busy machine); still
// exactly the breaks due within the window run, numbered in order: 4 for
// a 100 ms window with one every 20 ms, as 2 for the txtar's 8 s every 3 s.
// The clock is synctest's: the sleeps and timers take no real time.
func TestBreaksFollowTheSchedule(t *testing.T) {
	synctest.Test(t, testBreaksFollowTheSchedule)
}

func testBreaksFollowTheSchedule(t *testing.T) {
	for range 5 {
		var got []int
		breakOnSchedule(context.Background(), time.Now(), 100*time.Millisecond, 20*time.Millisecond, func(n int) {
			got = append(got, n)
			time.Sleep(70 * time.Millisecond) // a restart slower than the interval
		})
		if !slices.Equal(got, []int{1, 2, 3, 4}) {
			t.Fatalf("breaks %v, want [1 2 3 4]: those due before the window ends, however slow each is", got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n := 0
	breakOnSchedule(ctx, time.Now(), time.Hour, time.Millisecond, func(int) { n++ })
	if n != 0 {
		t.Fatalf("%d breaks after the context ended", n)
	}
}
