package embedded_test

import (
	"context"
	"encoding/json"
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

// A turn stores its entries in the compact form (store.EncodeEntry, as
// the Redis transcript keeps them: one-letter names, the time as Unix
// milliseconds), which every version since the form was introduced
// decodes, and reads back entries of the older form (the entry's own
// JSON, which versions before this one stored) in the same transcript.
func TestTurnStoresEntriesCompact(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir(), nil)
	s := embedded.NewSessions(db, store.SessionOptions{})
	at := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	first := []store.Entry{
		{Kind: "message", From: "bot", Text: "Hi!\nWhat brings you here?", At: at, Author: "Ava", Card: "welcome", Input: "choice",
			Buttons: []engine.Button{{Label: "Talk to sales", Value: "Talk to sales"}, {Label: "1-10", Value: "small"}}},
		{Kind: "event", From: "system", Text: "handoff", At: at, Data: map[string]any{"team": "sales"}},
	}
	if _, err := s.Create(ctx, &engine.Session{ID: "k"}, first); err != nil {
		t.Fatal(err)
	}
	var stored [][]byte
	var keys [][]byte
	if err := db.View(ctx, func(tx *embedded.Tx) error {
		return tx.Scan(embedded.K("c", "k", "m"), func(k, v []byte) (bool, error) {
			keys = append(keys, append([]byte(nil), k...))
			stored = append(stored, append([]byte(nil), v...))
			return true, nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(first) {
		t.Fatalf("%d entries stored, want %d", len(stored), len(first))
	}
	for i := range first {
		e := first[i]
		e.ID = ""
		want, err := store.EncodeEntry(&e)
		if err != nil {
			t.Fatal(err)
		}
		if string(stored[i]) != string(want) {
			t.Errorf("entry %d stored as %s, want the compact form %s", i, stored[i], want)
		}
	}
	// The first entry as the previous versions stored it.
	old := first[0]
	old.ID = ""
	oldForm, err := json.Marshal(&old)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx *embedded.Tx) error { return tx.Put(keys[0], oldForm) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.Transcript(ctx, "k", "", 0)
	if err != nil || len(got) != len(first) {
		t.Fatalf("transcript: %v, %v", got, err)
	}
	for i := range first {
		if fmt.Sprint(got[i]) != fmt.Sprint(first[i]) {
			t.Errorf("entry %d read back as %v, want %v", i, got[i], first[i])
		}
	}
}

// The pages commits write follow the bytes a conversation stores: 200
// conversations of the reference conversation's six turns (each turn a
// visitor's message and the bot's question with four buttons), one
// commit a turn, on a clock that stands still. With the entries' JSON
// (versions before this one) the transcripts filled and split the
// conversations' leaves about twice as fast: 6,557 pages (5.46 a commit),
// 6,390 (5.33) in the compact form. A commit of one turn writes at least
// the meta page, the root bucket's page, a branch and a leaf; what the
// entries' size changes is how often a leaf splits.
func TestTurnPagesWritten(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	db, err := embedded.Open(t.TempDir(), embedded.Options{SweepEvery: -1, Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := embedded.NewSessions(db, store.SessionOptions{TTL: time.Hour})
	stop := embedded.CountPages(db)
	for c := range 200 {
		conv := fmt.Sprintf("2bq5kcmlj%04da7d3xv6qyrzu", c)
		if _, err := st.Create(ctx, benchSession(conv), benchEntries("")[1:]); err != nil {
			t.Fatal(err)
		}
		for turn := range 5 {
			id := fmt.Sprintf("m%d", turn)
			if _, err := st.Turn(ctx, conv, id, func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
				sess.Turn++
				return sess, benchEntries(id), nil
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	commits, pages := stop()
	perCommit := float64(pages) / float64(commits)
	t.Logf("%d commits wrote %d pages: %.2f a commit", commits, pages, perCommit)
	if want := 5.4; perCommit > want {
		t.Errorf("%.2f pages a commit, want at most %.1f", perCommit, want)
	}
}
