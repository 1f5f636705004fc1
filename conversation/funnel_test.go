package conversation_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

func TestFunnelFacts(t *testing.T) {
	t0 := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	entries := []store.Entry{
		{From: "visitor", Kind: "message", Text: "hi", At: at(0)}, // answers nothing: no question was open
		{From: "system", Kind: "variant", Card: "hello", At: at(0), Data: map[string]any{"experiment": "opener", "variant": "friendly"}},
		{From: "bot", Kind: "message", Card: "hello", Buttons: []engine.Button{{Label: "Sales"}}, At: at(0)},
		{From: "visitor", Kind: "message", Text: "Sales", At: at(2)},
		{From: "bot", Kind: "message", Card: "email", Input: engine.InputEmail, At: at(2)},
		{From: "visitor", Kind: "message", Text: "nope", At: at(9)},
		{From: "bot", Kind: "message", Card: "email", Text: "That doesn't look like an email", Input: engine.InputEmail, At: at(9)},
		{From: "visitor", Kind: "message", Text: "a@b.io", At: at(20)},
		{From: "system", Kind: "record", Card: "offline", At: at(20), Data: map[string]any{"kind": "lead"}},
		{From: "system", Kind: "handoff", Card: "sales", At: at(20)},
		{From: "visitor", Kind: "message", Text: "anyone?", At: at(30)}, // to the team: no question open
		{From: "system", Kind: "missed", At: at(80)},
		{From: "system", Kind: "end", Card: "offline", At: at(80), Data: map[string]any{"outcome": "lead"}},
	}
	var got []string
	for _, f := range conversation.FunnelFacts(entries, "") {
		got = append(got, fmt.Sprintf("%s@%d%s", f.Name, int(f.At.Sub(t0).Seconds()), map[bool]string{true: " since " + f.Since}[f.Since != ""]))
	}
	want := []string{
		"variant|opener@0", "reached|hello@0", "asked|hello@0", "answered|hello@2 since asked|hello",
		"reached|email@2", "asked|email@2", "answered|email@9 since asked|email",
		"reached|email@9", "asked|email@9", "answered|email@20 since asked|email",
		"record|lead@20", "handoff|sales@20", "missed@80", "outcome|lead@80", "ended|offline@80",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("facts\n got %q\nwant %q", got, want)
	}
	// A turn that answers the question the conversation waited on.
	facts := conversation.FunnelFacts(entries[7:8], "email")
	if len(facts) != 1 || facts[0].Name != "answered|email" || facts[0].Timing != "time|email" {
		t.Fatalf("a turn's answer: %+v", facts)
	}
}

func TestMedianBucket(t *testing.T) {
	for _, tc := range []struct {
		times map[string]int64
		want  int64
	}{
		{nil, 0},
		{map[string]int64{"500": 1}, 500},
		{map[string]int64{"500": 1, "2000": 1}, 500},
		{map[string]int64{"500": 1, "2000": 2}, 2000},
		{map[string]int64{"1000": 1, "inf": 5}, -1},
	} {
		if got := conversation.MedianBucket(tc.times); got != tc.want {
			t.Errorf("MedianBucket(%v) = %d, want %d", tc.times, got, tc.want)
		}
	}
}
