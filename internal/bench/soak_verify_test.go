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
// checked after the run as strictly as Verify does during it. Of four
// finished conversations, one whose store lost its last entry and one
// without its lead's record move from the completed ones (with their
// turns) to the errors; one the store does not know is an error too.
func TestVerifyFinishedChecksEveryConversationAfterTheRun(t *testing.T) {
	var lead, other Script
	for n := 0; lead.Turns == nil || other.Turns == nil; n++ {
		if sc := ScriptFor(n); sc.Outcome == OutcomeLead {
			lead = sc
		} else if sc.Outcome == OutcomeNurture {
			other = sc
		}
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

	res.VerifyFinished(context.Background(), st)
	if res.Verified != 4 {
		t.Errorf("%d verified, want 4", res.Verified)
	}
	if res.Conversations != 1 || res.Errors != 3 {
		t.Fatalf("%d conversations and %d errors, want 1 and 3: %v", res.Conversations, res.Errors, res.ErrorSamples)
	}
	if res.ByOutcome[OutcomeLead] != 1 || res.ByOutcome[OutcomeNurture] != 0 {
		t.Errorf("by outcome %v, want lead 1, nurture 0", res.ByOutcome)
	}
	if res.Turns != len(lead.Turns) {
		t.Errorf("%d turns, want the good conversation's %d", res.Turns, len(lead.Turns))
	}
	want := []string{"the store holds", "0 record entries, want 1", "not found"}
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
