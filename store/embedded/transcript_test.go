package embedded_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

// EncodedTranscript hands over the stored entries in the form
// EncodeEntries makes, without decoding them: decoded, they are the
// entries Transcript returns, ids and all; a conversation that is gone
// has none.
func TestEncodedTranscriptIsTheTranscript(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	s := embedded.NewSessions(db, store.SessionOptions{})
	at := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	first := []store.Entry{
		{Kind: "message", From: "bot", Text: "Hi!\nWhat brings you here?", At: at, Buttons: []engine.Button{{Label: "Talk to sales"}}},
		{Kind: "message", From: "visitor", Text: "Größe: 51–200 \"quoted\"", At: at},
	}
	if _, err := s.Create(ctx, &engine.Session{ID: "k"}, first); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "k", []store.Entry{{Kind: "event", From: "system", Text: "handoff", At: at}}); err != nil {
		t.Fatal(err)
	}
	want, err := s.Transcript(ctx, "k", "", 0)
	if err != nil || len(want) != 3 {
		t.Fatalf("transcript: %v, %v", want, err)
	}
	b, err := s.EncodedTranscript(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.DecodeEntries(b)
	if err != nil {
		t.Fatalf("decoding %q: %v", b, err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("encoded transcript decodes to\n%v\nwant\n%v", got, want)
	}
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if b, err := s.EncodedTranscript(ctx, "k"); err != nil || b != nil {
		t.Fatalf("a deleted conversation's transcript: %q, %v", b, err)
	}
}
