package conversation

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// TestTurnFoldAllocations: an ordinary turn's funnel fold (the visitor
// answers the question of one card and the bot asks the next one's) costs
// the session's new record of what was counted (its names, its times);
// the facts' names are made once a card ("reached|size", "asked|size",
// ...), not on every turn (docs/benchmarks.md, "serve's allocations per
// turn (issue 13, eighth round)"), the row's day once a day, and the
// facts, the fold and its counters take no allocation of their own
// ("A turn's funnel fold in fewer allocations (issue 13, eleventh
// round)").
func TestTurnFoldAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	t0, rec, sess, entries := foldFixture()
	var fold *store.FunnelFold
	room := new(foldRoom)
	n := testing.AllocsPerRun(100, func() {
		sess.Funnel = rec
		fold = inTurnFold(room, sess, entries, "email", t0.Add(1200*time.Millisecond), false)
	})
	var got []string
	for _, f := range fold.Facts {
		got = append(got, f.Counter)
	}
	want := []string{"answered|email", "time|email|" + store.FunnelBucket(1300), "reached|size", "asked|size"}
	if len(got) != len(want) {
		t.Fatalf("counters %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("counters %q, want %q", got, want)
		}
	}
	t.Logf("%v allocations a turn's fold", n)
	// 22 before the names were made once a card, 8 before the day's name
	// was made once a day, 7 before the facts went on the stack and the
	// fold and its counters in the turn's own state, 4 before the record's
	// times were a list in the record's own room (two: the record, its
	// names).
	if n > 2 {
		t.Errorf("%v allocations for a turn's fold, want at most 2", n)
	}
}

// BenchmarkTurnFold: TestTurnFoldAllocations's fold, its bytes with
// -benchmem.
func BenchmarkTurnFold(b *testing.B) {
	t0, rec, sess, entries := foldFixture()
	b.ReportAllocs()
	room := new(foldRoom)
	for b.Loop() {
		sess.Funnel = rec
		inTurnFold(room, sess, entries, "email", t0.Add(1200*time.Millisecond), false)
	}
}

// foldFixture is the turn TestTurnFoldAllocations and BenchmarkTurnFold
// fold: the visitor answers the email card 1.3 s after it was asked, and
// the bot asks the size card; rec is what the funnel had counted before.
func foldFixture() (t0 time.Time, rec *engine.FunnelCounted, sess *engine.Session, entries []store.Entry) {
	t0 = time.UnixMilli(1800000000000).UTC()
	at := t0.Add(2500 * time.Millisecond)
	rec = &engine.FunnelCounted{Facts: []string{"started", "reached|hello", "asked|hello", "answered|hello", "reached|email", "asked|email"},
		At: engine.FunnelTimes{{Fact: "asked|email", Ms: 1200}}}
	sess = &engine.Session{ID: "c1", Playbook: "qualify", Version: "v1", StartedAt: t0, Funnel: rec}
	entries = []store.Entry{
		{From: "visitor", Kind: "message", Text: "visitor7@acme7.com", ClientID: "m3", At: at},
		{From: "bot", Kind: "message", Card: "size", Text: "How many employees?", Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}}, At: at},
	}
	return t0, rec, sess, entries
}

// TestFunnelKeyOfAllocations: a turn's rollup key names the day its
// conversation started without formatting the day again on every turn.
func TestFunnelKeyOfAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	t0 := time.Date(2027, 3, 14, 23, 59, 59, 0, time.UTC)
	sessions := []*engine.Session{
		{ID: "c1", Playbook: "qualify", Version: "v1", StartedAt: t0},
		{ID: "c2", Playbook: "qualify", Version: "v1", StartedAt: t0.Add(time.Second)}, // the next day
		{ID: "c3", Playbook: "qualify", Version: "v1", StartedAt: t0.Add(-time.Hour).In(time.FixedZone("", 5*3600))},
		{ID: "c4", Playbook: "qualify", Version: "v1", StartedAt: time.Date(1969, 12, 31, 12, 0, 0, 0, time.UTC)},
	}
	want := []string{"2027-03-14", "2027-03-15", "2027-03-14", "1969-12-31"}
	for i, sess := range sessions {
		if got := FunnelKeyOf(sess).Day; got != want[i] {
			t.Fatalf("session %d: day %q, want %q", i, got, want[i])
		}
	}
	n := testing.AllocsPerRun(100, func() {
		for _, sess := range sessions[:3] {
			FunnelKeyOf(sess)
		}
	})
	if n != 0 { // 3 before
		t.Errorf("%v allocations for three keys of conversations started on two days, want 0", n)
	}
}
