package store_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

var entryCases = map[string]store.Entry{
	"greeting": {From: "bot", Kind: "message", Text: "Hi! What brings you here?", Input: "choice", Card: "hello",
		Buttons: []engine.Button{{Label: "Talk to sales", Value: "Talk to sales"}, {Label: "Just browsing", Value: "Just browsing"}}},
	"visitor":        {From: "visitor", Kind: "message", Text: "Just browsing", ClientID: "m1"},
	"end":            {From: "system", Kind: "end", Card: "browsing", Data: map[string]any{"outcome": "browsing", "n": 2.5, "list": []any{"a", true}}},
	"agent":          {From: "agent", Kind: "message", Text: "Hello", Author: "agt_1", Image: "https://example.com/a.png"},
	"buttons differ": {From: "bot", Kind: "message", Buttons: []engine.Button{{Label: "Yes", Value: "yes"}, {Label: "", Value: ""}}},
	"links":          {From: "bot", Kind: "message", Links: []engine.LinkOut{{Label: "Docs", URL: "https://example.com/docs"}}},
	"unknown from":   {From: "webhook", Kind: "note", Text: "x"},
	"empty":          {},
	"empty kind":     {From: "bot", Text: "no kind"},
}

// EncodeEntry's compact form decodes to the same entry (times to the
// millisecond), and is smaller than the entry's JSON.
func TestEncodeEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 10, 51, 607_000_000, time.UTC)
	for name, e := range entryCases {
		if name != "empty" {
			e.At = at
		}
		data, err := store.EncodeEntry(&e)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := store.DecodeEntry("1-0", string(data))
		if err != nil {
			t.Fatalf("%s: decode %s: %v", name, data, err)
		}
		e.ID = "1-0"
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s: %s decoded to\n%+v, want\n%+v", name, data, got, e)
		}
		old, _ := json.Marshal(&e)
		if len(data) >= len(old) {
			t.Errorf("%s: compact %d bytes (%s), the JSON %d", name, len(data), data, len(old))
		}
	}
	greeting := entryCases["greeting"]
	greeting.At = at
	data, _ := store.EncodeEntry(&greeting)
	if len(data) > 122 {
		t.Errorf("the greeting takes %d bytes: %s", len(data), data)
	}
}

// What older versions stored (the entry's JSON) still decodes.
func TestDecodeEntryOlderForm(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 10, 51, 607288138, time.UTC)
	for name, e := range entryCases {
		e.At = at
		old, err := json.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.DecodeEntry("5-1", old)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		e.ID = "5-1"
		if !reflect.DeepEqual(got, e) {
			t.Errorf("%s: %s decoded to\n%+v, want\n%+v", name, old, got, e)
		}
	}
	if _, err := store.DecodeEntry("1-0", `{"f":"b","b":[["only one"]]}`); err == nil {
		t.Error("a button of one string in a list decoded")
	}
}

// A transcript archived by EncodeEntries, or as the JSON array older
// versions archived, decodes to the same entries.
func TestEncodeEntriesAndTheOlderArchive(t *testing.T) {
	at := time.Date(2026, 12, 4, 16, 10, 51, 607_000_000, time.UTC)
	var entries []store.Entry
	for _, name := range []string{"greeting", "visitor", "end", "agent"} {
		e := entryCases[name]
		e.At, e.ID = at, "1796400651607-"+string(rune('0'+len(entries)))
		entries = append(entries, e)
	}
	compact, err := store.EncodeEntries(entries)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := json.Marshal(entries)
	for form, b := range map[string][]byte{"compact": compact, "older": old} {
		got, err := store.DecodeEntries(b)
		if err != nil || !reflect.DeepEqual(got, entries) {
			t.Errorf("%s (%d bytes): %+v %v, want %+v", form, len(b), got, err, entries)
		}
	}
	if len(compact) >= len(old)*2/3 {
		t.Errorf("compact archive %d bytes, the JSON %d", len(compact), len(old))
	}
	if got, err := store.DecodeEntries(nil); err != nil || got != nil {
		t.Errorf("nothing decoded to %v %v", got, err)
	}
}
