package redis_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

func newStore(t *testing.T) (*redisstore.Store, *redistest.Server) {
	srv := redistest.New(t)
	return redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix, TTL: time.Hour}), srv
}

func bot(text string) redisstore.Entry {
	return redisstore.Entry{From: "bot", Kind: "message", Text: text, At: time.Unix(1700000000, 0).UTC()}
}

// count is a step that bumps the session's turn and says which turn it was.
func count(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
	sess.Turn++
	return sess, []redisstore.Entry{bot(fmt.Sprintf("turn %d", sess.Turn))}, nil
}

func TestCreateLoadTranscript(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	sess := &engine.Session{ID: "c1", Playbook: "p", Version: "h", Vars: map[string]any{"email": "a@b.co"}}
	r, err := st.Create(ctx, sess, []redisstore.Entry{bot("hi"), bot("what's your email?")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || len(r.Entries) != 2 || r.Entries[0].ID == "" {
		t.Fatalf("create = %+v", r)
	}
	if _, err := st.Create(ctx, sess, nil); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, v, err := st.Load(ctx, "c1")
	if err != nil || v != 1 || got.Vars["email"] != "a@b.co" {
		t.Fatalf("load = %+v %d %v", got, v, err)
	}
	if _, _, err := st.Load(ctx, "nope"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("load missing: %v", err)
	}
	all, err := st.Transcript(ctx, "c1", "", 0)
	if err != nil || len(all) != 2 || all[1].Text != "what's your email?" {
		t.Fatalf("transcript = %+v %v", all, err)
	}
	after, err := st.Transcript(ctx, "c1", all[0].ID, 0)
	if err != nil || len(after) != 1 || after[0].ID != all[1].ID {
		t.Fatalf("transcript after first = %+v %v", after, err)
	}
}

func TestDuplicateClientIDAnsweredFromTranscript(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	if _, err := st.Create(ctx, &engine.Session{ID: "c2"}, nil); err != nil {
		t.Fatal(err)
	}
	first, err := st.Turn(ctx, "c2", "m-1", count)
	if err != nil || first.Duplicate {
		t.Fatalf("first = %+v %v", first, err)
	}
	again, err := st.Turn(ctx, "c2", "m-1", count)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || len(again.Entries) != 1 || again.Entries[0].ID != first.Entries[0].ID || again.Entries[0].Text != "turn 1" {
		t.Fatalf("duplicate = %+v, want the first turn's entry %+v", again, first.Entries)
	}
	sess, v, _ := st.Load(ctx, "c2")
	if sess.Turn != 1 || v != 2 {
		t.Fatalf("after a duplicate: turn %d version %d, want 1 and 2", sess.Turn, v)
	}
	all, _ := st.Transcript(ctx, "c2", "", 0)
	if len(all) != 1 {
		t.Fatalf("transcript has %d entries, want 1", len(all))
	}
}

// TestConcurrentTurns sends many messages at once, as from several tabs of
// one visitor: every distinct message moves the session exactly once, and
// the same message sent from two tabs moves it once.
func TestConcurrentTurns(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	if _, err := st.Create(ctx, &engine.Session{ID: "c3"}, nil); err != nil {
		t.Fatal(err)
	}
	const distinct = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*distinct)
	for i := range distinct {
		for tab := range 2 { // each message sent from two tabs
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := st.Turn(ctx, "c3", fmt.Sprintf("m-%d", i), count)
				if err != nil {
					errs <- fmt.Errorf("message %d tab %d: %w", i, tab, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sess, _, _ := st.Load(ctx, "c3")
	if sess.Turn != distinct {
		t.Fatalf("session moved %d times, want %d", sess.Turn, distinct)
	}
	all, _ := st.Transcript(ctx, "c3", "", 0)
	if len(all) != distinct {
		t.Fatalf("transcript has %d entries, want %d", len(all), distinct)
	}
	seen := map[string]bool{}
	for _, e := range all {
		if seen[e.Text] {
			t.Fatalf("duplicate transcript entry %q", e.Text)
		}
		seen[e.Text] = true
	}
}

func TestTTLAndLiveChannel(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t)
	if _, err := st.Create(ctx, &engine.Session{ID: "c4"}, []redisstore.Entry{bot("hi")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"s", "msgs"} {
		ttl, err := srv.Client.PTTL(ctx, srv.Prefix+"{c:c4}:"+k).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Fatalf("ttl of %s = %v %v, want (0, 1h]", k, ttl, err)
		}
	}
	sub := srv.Client.Subscribe(ctx, st.Channel("c4"))
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // the subscription confirmation
		t.Fatal(err)
	}
	r, err := st.Turn(ctx, "c4", "x", count)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-sub.Channel():
		got, err := redisstore.DecodeLive(msg.Payload)
		if err != nil || len(got) != 1 || got[0].ID != r.Entries[0].ID || got[0].Text != "turn 1" {
			t.Fatalf("live = %+v %v, want %+v", got, err, r.Entries)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live message within 5s")
	}
}
