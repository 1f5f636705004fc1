package crm

import (
	"strings"
	"testing"
	"time"
)

// TestChatStoredForm: a chat is stored without its conversation and
// without the transcript's usual path, and reads back whole; a chat stored
// in the older form (both written out) reads as before; a path that is not
// the usual one is kept.
func TestChatStoredForm(t *testing.T) {
	at := time.Date(2026, 12, 4, 18, 58, 28, 0, time.UTC)
	c := Chat{Conversation: "c1", Playbook: "qualify", StartedAt: at, EndedAt: &at, FirstMessage: "Talk to sales", Outcome: "lead", Transcript: TranscriptPath("c1")}
	v := encodeChat(c)
	if strings.Contains(v, "c1") || strings.Contains(v, "transcript") {
		t.Fatalf("stored chat %s: want neither the conversation nor the path", v)
	}
	got, err := decodeChat("c1", v)
	if err != nil || got.Conversation != "c1" || got.Transcript != TranscriptPath("c1") || got.Outcome != "lead" || !got.StartedAt.Equal(at) || got.EndedAt == nil {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	old := `{"conversation":"c0","playbook":"qualify","started_at":"2026-12-04T18:58:28Z","outcome":"lead","transcript":"/api/conversations/c0/transcript"}`
	if got, err := decodeChat("c0", old); err != nil || got.Conversation != "c0" || got.Transcript != TranscriptPath("c0") || got.Playbook != "qualify" {
		t.Fatalf("the older form: %+v, %v", got, err)
	}
	c.Transcript = "https://archive.example/c1"
	if got, err := decodeChat("c1", encodeChat(c)); err != nil || got.Transcript != c.Transcript {
		t.Fatalf("another path: %+v, %v", got, err)
	}
}

// TestRecordStoredForm: a record is stored without its id and, while it
// has not changed, without updated_at, and reads back whole; a record
// stored in the older form reads as before; a changed record keeps its
// updated_at.
func TestRecordStoredForm(t *testing.T) {
	at := time.Date(2026, 12, 4, 18, 58, 28, 16300852, time.UTC)
	r := &Record{ID: "led_1", Kind: KindLead, Title: "visitor105@acme8.com", Key: "c1:6:offline:0", CreatedAt: at, UpdatedAt: at}
	b, err := encodeRecord(r)
	if err != nil || strings.Contains(string(b), "led_1") || strings.Contains(string(b), "updated_at") {
		t.Fatalf("stored record %s, %v: want neither the id nor updated_at", b, err)
	}
	var got Record
	if err := decodeRecord("led_1", string(b), &got); err != nil || got.ID != "led_1" || !got.UpdatedAt.Equal(at) || got.Title != r.Title || got.Key != r.Key {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	r.UpdatedAt = at.Add(time.Hour)
	b, _ = encodeRecord(r)
	got = Record{}
	if err := decodeRecord("led_1", string(b), &got); err != nil || !got.UpdatedAt.Equal(r.UpdatedAt) || !got.CreatedAt.Equal(at) {
		t.Fatalf("a changed record: %+v, %v", got, err)
	}
	old := `{"id":"led_0","kind":"lead","title":"x","created_at":"2026-12-04T18:58:28Z","updated_at":"2026-12-04T19:58:28Z"}`
	got = Record{}
	if err := decodeRecord("led_0", old, &got); err != nil || got.ID != "led_0" || got.UpdatedAt.Sub(got.CreatedAt) != time.Hour {
		t.Fatalf("the older form: %+v, %v", got, err)
	}
}
