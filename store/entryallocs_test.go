package store_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/race"
	"github.com/playbook-dev/playbook/store"
)

// TestEncodeEntryAllocations: a bot's question with four buttons (the
// reference conversation's size question) is encoded in three
// allocations (the compact form, its buttons' list, the bytes), the
// buttons' labels not boxed one by one; the bytes are the same as before
// (docs/benchmarks.md, "serve's allocations per turn (issue 13, eighth
// round)").
func TestEncodeEntryAllocations(t *testing.T) {
	e := store.Entry{From: "bot", Kind: "message", Text: "How many employees?", Card: "size", Input: "choice",
		At:      time.Date(2026, 11, 22, 8, 0, 1, 0, time.UTC),
		Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}, {Label: "11-50", Value: "11-50"}, {Label: "51-200", Value: "51-200"}, {Label: "201+", Value: "other"}}}
	got, err := store.EncodeEntry(&e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"f":"b","t":"How many employees?","b":["1-10","11-50","51-200",["201+","other"]],"i":"choice","d":"size","a":1795334401000}`
	if string(got) != want {
		t.Errorf("encoded %s, want %s", got, want)
	}
	race.SkipAllocCounts(t)
	e.Buttons[3].Value = e.Buttons[3].Label
	n := testing.AllocsPerRun(100, func() { _, _ = store.EncodeEntry(&e) })
	t.Logf("%v allocations", n)
	if n > 3 { // 9 before
		t.Errorf("%v allocations to encode a question with four buttons, want at most 3", n)
	}
}
