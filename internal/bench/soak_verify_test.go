package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// transcripts is a store's transcripts held in a map.
type transcripts map[string][]store.Entry

func (m transcripts) Transcript(_ context.Context, id, _ string, _ int64) ([]store.Entry, error) {
	es, ok := m[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	return es, nil
}

// stored is what the store holds for a conversation whose visitor received
// got: the same entries, and records records.
func stored(got []Entry, records int) []store.Entry {
	var out []store.Entry
	for _, e := range got {
		out = append(out, store.Entry{ID: e.ID, From: e.From, Kind: e.Kind, Text: e.Text})
	}
	for range records {
		out = append(out, store.Entry{From: "system", Kind: "record"})
	}
	return out
}

// received is what a visitor of script sc receives: the reference entries,
// with ids.
func received(sc Script) []Entry {
	es := Expected(sc)
	for i := range es {
		es[i].ID = sc.Outcome + "-" + string(rune('a'+i))
	}
	return es
}

// TestVerifyFinishedChecksEveryConversationAfterTheRun: with Keep (the
// embedded store, unreadable while the server runs) the conversations are
// checked after the run as strictly as Verify does during it. Of the
// finished conversations, one whose store lost its last entry and one
// without its lead's record move from the completed ones (with their
// turns) to the errors; one the store does not know is an error too. A
// handoff whose wait ran out after its visitor left holds the offline path
// after what the visitor received: that is right, but only exactly that
// path with its one record.
func TestVerifyFinishedChecksEveryConversationAfterTheRun(t *testing.T) {
	var lead, other, handoff Script
	for n := 0; lead.Turns == nil || other.Turns == nil || handoff.Turns == nil; n++ {
		switch sc := ScriptFor(n); sc.Outcome {
		case OutcomeLead:
			lead = sc
		case OutcomeNurture:
			other = sc
		case OutcomeHandoff:
			handoff = sc
		}
	}
	offline := func(records int, texts ...string) []store.Entry {
		es := stored(received(handoff), 0)
		for _, t := range texts {
			es = append(es, store.Entry{From: "bot", Kind: "message", Text: t})
		}
		for range records {
			es = append(es, store.Entry{From: "system", Kind: "record"})
		}
		return append(es, store.Entry{From: "system", Kind: "end"}, store.Entry{From: "system", Kind: "missed"})
	}
	res := SoakResult{ByOutcome: map[string]int{}}
	st := transcripts{}
	add := func(conv string, sc Script, kept []store.Entry) {
		got := received(sc)
		res.Conversations++
		res.ByOutcome[sc.Outcome]++
		res.Turns += len(sc.Turns)
		res.Finished = append(res.Finished, FinishedConversation{Script: sc, Conversation: conv, Entries: got, Turns: len(sc.Turns)})
		if kept != nil {
			st[conv] = kept
		}
	}
	add("good", lead, stored(received(lead), 1))
	lost := stored(received(other), 0)
	add("lost", other, lost[:len(lost)-1])
	add("norecord", lead, stored(received(lead), 0))
	add("unknown", other, nil)
	add("handoff", handoff, stored(received(handoff), 0))
	add("offline", handoff, offline(1, textOffline))
	add("offline-no-record", handoff, offline(0, textOffline))
	add("offline-twice", handoff, offline(1, textOffline, textOffline))

	res.VerifyFinished(context.Background(), st)
	if res.Verified != 8 {
		t.Errorf("%d verified, want 8", res.Verified)
	}
	if res.Conversations != 3 || res.Errors != 5 || res.AfterLeaving != 1 {
		t.Fatalf("%d conversations, %d errors, %d offline after leaving; want 3, 5 and 1: %v", res.Conversations, res.Errors, res.AfterLeaving, res.ErrorSamples)
	}
	if res.ByOutcome[OutcomeLead] != 1 || res.ByOutcome[OutcomeNurture] != 0 || res.ByOutcome[OutcomeHandoff] != 2 {
		t.Errorf("by outcome %v, want lead 1, nurture 0, handoff 2", res.ByOutcome)
	}
	if want := len(lead.Turns) + 2*len(handoff.Turns); res.Turns != want {
		t.Errorf("%d turns, want the good conversations' %d", res.Turns, want)
	}
	want := []string{"the store holds", "0 record entries, want 1", "not found", "the store holds", "the store holds"}
	for i, w := range want {
		if i >= len(res.ErrorSamples) || !strings.Contains(res.ErrorSamples[i], w) || !strings.Contains(res.ErrorSamples[i], "after the run") {
			t.Errorf("error sample %d: %q, want one that says %q (after the run)", i, res.ErrorSamples, w)
		}
	}
}

// TestWaitUntilIsBounded: WaitUntil returns once check is done and says
// how long that took; a check never done gives an error with its last
// cause once the limit passes. The clock is synctest's.
func TestWaitUntilIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		took, err := WaitUntil(context.Background(), time.Minute, func(context.Context) (bool, error) {
			calls++
			return calls == 4, nil
		})
		if err != nil || calls != 4 {
			t.Fatalf("%d calls, %v; want 4 calls and no error", calls, err)
		}
		// Pauses of 100, 200 and 400 ms between the four calls.
		if took != 700*time.Millisecond {
			t.Errorf("took %v, want 700ms", took)
		}

		cause := errors.New("the server does not answer")
		took, err = WaitUntil(context.Background(), 5*time.Second, func(context.Context) (bool, error) { return false, cause })
		if !errors.Is(err, cause) {
			t.Fatalf("err %v, want the check's last error", err)
		}
		if took != 5*time.Second {
			t.Errorf("gave up after %v, want the limit, 5s", took)
		}
	})
}
