package conversation

import (
	"slices"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

// TestInTurnFoldCountsWhatTheSessionHasNot (issue 13): a session that
// records what the funnel counted of it gets folds of counters only (no
// names for the store to look up): each fact once across turns, an
// answer's time from the question's time the record kept, and a new
// record each time (the one read is shared with the session cache). A
// session without a record (stored before) gets the named facts as
// before.
func TestInTurnFoldCountsWhatTheSessionHasNot(t *testing.T) {
	t0 := time.UnixMilli(1800000000000).UTC()
	sess := &engine.Session{ID: "c1", Playbook: "p", Version: "v1", StartedAt: t0, Funnel: &engine.FunnelCounted{}}
	ask := func(card string, at time.Time) store.Entry {
		return store.Entry{From: "bot", Kind: "message", Card: card, Input: "text", At: at}
	}
	counters := func(f *store.FunnelFold) []string {
		if f == nil {
			return nil
		}
		if !f.Counted {
			t.Fatalf("fold %+v is not Counted", f)
		}
		var out []string
		for _, x := range f.Facts {
			out = append(out, x.Counter)
		}
		return out
	}

	start := inTurnFold(new(foldRoom), sess, []store.Entry{ask("name", t0)}, "", time.Time{}, true)
	if got, want := counters(start), []string{"started", "reached|name", "asked|name"}; !slices.Equal(got, want) {
		t.Errorf("start counts %v, want %v", got, want)
	}
	read := sess.Funnel
	kept := *read
	kept.Facts, kept.At = slices.Clone(read.Facts), slices.Clone(read.At)

	// The answer, 1.2 s after the question, and the question asked again
	// (reached and asked before: not counted again).
	at := t0.Add(1200 * time.Millisecond)
	answer := inTurnFold(new(foldRoom), sess, []store.Entry{{From: "visitor", Kind: "message", At: at}, ask("email", at), ask("name", at)}, "name", t0, false)
	if got, want := counters(answer), []string{"answered|name", "time|name|" + store.FunnelBucket(1200), "reached|email", "asked|email"}; !slices.Equal(got, want) {
		t.Errorf("answer counts %v, want %v", got, want)
	}
	if !slices.Equal(read.Facts, kept.Facts) || !slices.Equal(read.At, kept.At) {
		t.Errorf("the record read was changed: %+v, was %+v", read, kept)
	}
	if _, ok := sess.Funnel.At.Get("asked|name"); ok {
		t.Errorf("the answered question's time is still kept: %v", sess.Funnel.At)
	}
	if got, _ := sess.Funnel.At.Get("asked|email"); got != 1200 {
		t.Errorf("asked|email kept at %d ms after the start, want 1200", got)
	}
	// Nothing new: no fold, the record as it was.
	before := sess.Funnel
	if f := inTurnFold(new(foldRoom), sess, []store.Entry{ask("name", at.Add(time.Second))}, "", time.Time{}, false); f != nil || sess.Funnel != before {
		t.Errorf("a turn with nothing new folds %+v", f)
	}

	old := &engine.Session{ID: "c2", Playbook: "p", Version: "v1", StartedAt: t0}
	f := inTurnFold(new(foldRoom), old, []store.Entry{ask("name", t0)}, "", time.Time{}, false)
	if f == nil || f.Counted || len(f.Facts) != 2 || f.Facts[0].Name != "reached|name" || old.Funnel != nil {
		t.Errorf("a session without a record folds %+v (record %v), want its named facts", f, old.Funnel)
	}
}
