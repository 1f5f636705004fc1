package storetest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
)

// SessionStore is store.SessionStore.
type SessionStore = store.SessionStore

// SessionsEnv is one data set of an engine for the Sessions suite.
type SessionsEnv struct {
	// Open opens a new instance on the data set.
	Open func(opts store.SessionOptions) SessionStore
	// Bus opens a new instance of the bus turns publish on.
	Bus func() store.Bus
	// Advance, when set, makes d pass on the engine's clock (and runs its
	// expiry sweep); when nil the suite waits for real time to pass.
	Advance func(d time.Duration)
}

func bot(text string) store.Entry {
	return store.Entry{From: "bot", Kind: "message", Text: text, At: time.Unix(1700000000, 0).UTC()}
}

// count is a step that bumps the session's turn and says which turn it was.
func count(sess *engine.Session) (*engine.Session, []store.Entry, error) {
	sess.Turn++
	return sess, []store.Entry{bot(fmt.Sprintf("turn %d", sess.Turn))}, nil
}

// Sessions runs the conformance suite of store.Sessions and
// store.PendingMarks.
func Sessions(t *testing.T, open func(t *testing.T) SessionsEnv) {
	t.Run("CreateLoadTranscript", func(t *testing.T) { sessCreateLoadTranscript(t, open(t)) })
	t.Run("DuplicateClientID", func(t *testing.T) { sessDuplicate(t, open(t)) })
	t.Run("ConcurrentTurnsTwoProcesses", func(t *testing.T) { sessConcurrent(t, open(t)) })
	t.Run("StaleVersion", func(t *testing.T) { sessStale(t, open(t)) })
	t.Run("FailedStepLeavesNothing", func(t *testing.T) { sessFailedStep(t, open(t)) })
	t.Run("DeleteAndAlive", func(t *testing.T) { sessDelete(t, open(t)) })
	t.Run("Expiry", func(t *testing.T) { sessExpiry(t, open(t)) })
	t.Run("KeptTranscript", func(t *testing.T) { sessKept(t, open(t)) })
	t.Run("PendingMarks", func(t *testing.T) { sessPending(t, open(t)) })
	t.Run("LiveEntriesToAnotherProcess", func(t *testing.T) { sessLive(t, open(t)) })
}

func opts() store.SessionOptions { return store.SessionOptions{TTL: time.Hour} }

func sessCreateLoadTranscript(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	st := env.Open(opts())
	sess := &engine.Session{ID: "c1", Playbook: "p", Version: "h", Vars: map[string]any{"email": "a@b.co"}}
	r, err := st.Create(ctx, sess, []store.Entry{bot("hi"), bot("what's your email?")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || len(r.Entries) != 2 || r.Entries[0].ID == "" || r.Entries[0].ID == r.Entries[1].ID {
		t.Fatalf("create = %+v", r)
	}
	if _, err := env.Open(opts()).Create(ctx, sess, nil); !errors.Is(err, store.ErrExists) {
		t.Fatalf("second create (another process): %v, want ErrExists", err)
	}
	got, v, err := st.Load(ctx, "c1")
	if err != nil || v != 1 || got.Vars["email"] != "a@b.co" || got.Playbook != "p" {
		t.Fatalf("load = %+v %d %v", got, v, err)
	}
	if _, _, err := st.Load(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("load missing: %v, want ErrNotFound", err)
	}
	if _, err := st.Turn(ctx, "nope", "m", count); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("turn on a missing conversation: %v, want ErrNotFound", err)
	}
	// Entries appended later come after, and resume from any id gives
	// exactly the entries after it, in order.
	for i := range 5 {
		if _, err := st.Turn(ctx, "c1", fmt.Sprintf("m%d", i), count); err != nil {
			t.Fatal(err)
		}
	}
	all, err := st.Transcript(ctx, "c1", "", 0)
	if err != nil || len(all) != 7 || all[1].Text != "what's your email?" || all[6].Text != "turn 5" {
		t.Fatalf("transcript = %+v %v", all, err)
	}
	for i := range all {
		after, err := env.Open(opts()).Transcript(ctx, "c1", all[i].ID, 0)
		if err != nil || len(after) != len(all)-i-1 {
			t.Fatalf("transcript after entry %d = %d entries %v, want %d", i, len(after), err, len(all)-i-1)
		}
		for j := range after {
			if after[j].ID != all[i+1+j].ID || after[j].Text != all[i+1+j].Text {
				t.Fatalf("after entry %d: got %+v want %+v", i, after[j], all[i+1+j])
			}
		}
	}
	two, err := st.Transcript(ctx, "c1", all[2].ID, 2)
	if err != nil || len(two) != 2 || two[0].ID != all[3].ID || two[1].ID != all[4].ID {
		t.Fatalf("two after entry 2 = %+v %v", two, err)
	}
	if got, err := st.Transcript(ctx, "c1", "0", 0); err != nil || len(got) != 7 {
		t.Fatalf("transcript after 0 = %d %v", len(got), err)
	}
	if _, err := st.Transcript(ctx, "c1", "not-an-id", 0); err == nil {
		t.Fatal("a malformed resume id gave no error")
	}
	if got, err := st.Transcript(ctx, "nope", "", 0); err != nil || len(got) != 0 {
		t.Fatalf("transcript of a missing conversation = %v %v, want none", got, err)
	}
}

func sessDuplicate(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	st := env.Open(opts())
	if _, err := st.Create(ctx, &engine.Session{ID: "c2"}, nil); err != nil {
		t.Fatal(err)
	}
	first, err := st.Turn(ctx, "c2", "m-1", count)
	if err != nil || first.Duplicate || first.Version != 2 {
		t.Fatalf("first = %+v %v", first, err)
	}
	// The same message through another process.
	again, err := env.Open(opts()).Turn(ctx, "c2", "m-1", count)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || len(again.Entries) != 1 || again.Entries[0].ID != first.Entries[0].ID || again.Entries[0].Text != "turn 1" {
		t.Fatalf("duplicate = %+v, want the first turn's entry %+v", again, first.Entries)
	}
	// A message whose turn wrote no entries is a duplicate too.
	quiet := func(s *engine.Session) (*engine.Session, []store.Entry, error) { s.Turn++; return s, nil, nil }
	if r, err := st.Turn(ctx, "c2", "m-2", quiet); err != nil || r.Duplicate {
		t.Fatalf("quiet turn = %+v %v", r, err)
	}
	if r, err := st.Turn(ctx, "c2", "m-2", quiet); err != nil || !r.Duplicate || len(r.Entries) != 0 {
		t.Fatalf("quiet duplicate = %+v %v", r, err)
	}
	sess, v, _ := st.Load(ctx, "c2")
	if sess.Turn != 2 || v != 3 {
		t.Fatalf("after duplicates: turn %d version %d, want 2 and 3", sess.Turn, v)
	}
	all, _ := st.Transcript(ctx, "c2", "", 0)
	if len(all) != 1 {
		t.Fatalf("transcript has %d entries, want 1", len(all))
	}
}

// sessConcurrent sends many messages at once from two processes, as from
// two tabs of one visitor on two servers: every distinct message moves the
// session exactly once, and the same message sent twice moves it once.
func sessConcurrent(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	procs := []SessionStore{env.Open(opts()), env.Open(opts())}
	if _, err := procs[0].Create(ctx, &engine.Session{ID: "c3"}, nil); err != nil {
		t.Fatal(err)
	}
	const distinct = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*distinct)
	for i := range distinct {
		for tab := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := procs[tab].Turn(ctx, "c3", fmt.Sprintf("m-%d", i), count); err != nil {
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
	sess, v, _ := procs[1].Load(ctx, "c3")
	if sess.Turn != distinct || v != distinct+1 {
		t.Fatalf("session moved %d times (version %d), want %d", sess.Turn, v, distinct)
	}
	all, _ := procs[0].Transcript(ctx, "c3", "", 0)
	if len(all) != distinct {
		t.Fatalf("transcript has %d entries, want %d", len(all), distinct)
	}
	seen := map[string]bool{}
	for i, e := range all {
		if seen[e.Text] || e.Text != fmt.Sprintf("turn %d", i+1) {
			t.Fatalf("entry %d is %q (duplicate or out of order)", i, e.Text)
		}
		seen[e.Text] = true
	}
}

func sessStale(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	a, b := env.Open(opts()), env.Open(opts())
	if _, err := a.Create(ctx, &engine.Session{ID: "c5"}, nil); err != nil {
		t.Fatal(err)
	}
	sess, v, err := a.Load(ctx, "c5")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Turn(ctx, "c5", "", count); err != nil {
		t.Fatal(err)
	}
	sess.Turn = 42
	if _, err := a.Commit(ctx, "c5", v, sess, "x", []store.Entry{bot("late")}); !errors.Is(err, store.ErrStale) {
		t.Fatalf("commit on a stale version: %v, want ErrStale", err)
	}
	// Nothing of the refused commit is stored, its client id included.
	got, v2, _ := b.Load(ctx, "c5")
	if got.Turn != 1 || v2 != 2 {
		t.Fatalf("after a stale commit: turn %d version %d, want 1 and 2", got.Turn, v2)
	}
	if r, err := b.Turn(ctx, "c5", "x", count); err != nil || r.Duplicate {
		t.Fatalf("the stale commit's client id was recorded: %+v %v", r, err)
	}
	// A turn on a stale read retries and lands on top.
	r, err := a.Turn(ctx, "c5", "y", count)
	if err != nil || r.Version != 4 || r.Entries[0].Text != "turn 3" {
		t.Fatalf("turn after another process wrote = %+v %v, want version 4 saying turn 3", r, err)
	}
}

func sessFailedStep(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	st := env.Open(opts())
	if _, err := st.Create(ctx, &engine.Session{ID: "k3", Vars: map[string]any{"a": "1"}}, nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := st.Turn(ctx, "k3", "c", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		sess.Vars["a"] = "changed"
		sess.Turn = 99
		return nil, nil, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the step's", err)
	}
	r, err := st.Turn(ctx, "k3", "c", func(sess *engine.Session) (*engine.Session, []store.Entry, error) {
		if sess.Vars["a"] != "1" || sess.Turn != 0 {
			t.Errorf("the failed step's changes leaked: %+v", sess)
		}
		return sess, nil, nil
	})
	if err != nil || r.Duplicate {
		t.Fatalf("turn after a failed step = %+v %v (its client id must not count)", r, err)
	}
}

func sessDelete(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	st := env.Open(opts())
	for _, id := range []string{"d1", "d2", "d3"} {
		if _, err := st.Create(ctx, &engine.Session{ID: id}, []store.Entry{bot("hi")}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Turn(ctx, id, "m1", count); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Delete(ctx, "d1", "d2"); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	alive, err := env.Open(opts()).Alive(ctx, []string{"d1", "d2", "d3", "never"})
	if err != nil || alive["d1"] || alive["d2"] || !alive["d3"] || alive["never"] || len(alive) != 4 {
		t.Fatalf("alive = %v %v", alive, err)
	}
	if _, err := st.Turn(ctx, "d1", "m2", count); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("turn after delete: %v, want ErrNotFound", err)
	}
	if got, _ := st.Transcript(ctx, "d1", "", 0); len(got) != 0 {
		t.Fatalf("transcript after delete: %v", got)
	}
	// The id can be used again, and its old client ids are gone with it.
	if _, err := st.Create(ctx, &engine.Session{ID: "d1"}, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Turn(ctx, "d1", "m1", count); err != nil || r.Duplicate {
		t.Fatalf("a deleted conversation's client id survived: %+v %v", r, err)
	}
}

func sessExpiry(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	ttl := time.Hour
	if env.Advance == nil {
		ttl = 300 * time.Millisecond
	}
	st := env.Open(store.SessionOptions{TTL: ttl})
	// e2 is kept alive by its turns; e1 is idle. On a real clock a busy
	// machine can stall past the TTL between two turns of e2: then e2 may
	// expire rightly, and is made again; it must be alive whenever its last
	// turn was sent less than the TTL ago (its expiry was set after that).
	var e2Sent time.Time
	create := func(id string) {
		if id == "e2" {
			e2Sent = time.Now()
		}
		if _, err := st.Create(ctx, &engine.Session{ID: id}, []store.Entry{bot("hi")}); err != nil {
			t.Fatal(err)
		}
	}
	create("e1")
	create("e2")
	recent := func() bool { return env.Advance != nil || time.Since(e2Sent) < ttl }
	gone := func() bool {
		alive, err := st.Alive(ctx, []string{"e1", "e2"})
		if err != nil {
			t.Fatal(err)
		}
		if !alive["e2"] {
			if recent() {
				t.Fatal("a conversation with recent turns expired")
			}
			create("e2")
		}
		return !alive["e1"]
	}
	deadline := time.Now().Add(20 * time.Second)
	for !gone() {
		if time.Now().After(deadline) {
			t.Fatal("an idle conversation did not expire within 20s")
		}
		if env.Advance != nil {
			env.Advance(ttl / 4)
		} else {
			time.Sleep(ttl / 4)
		}
		sent := time.Now()
		_, err := st.Turn(ctx, "e2", "", count)
		if errors.Is(err, store.ErrNotFound) && !recent() {
			create("e2")
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		e2Sent = sent
	}
	if _, _, err := st.Load(ctx, "e1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("load of an expired conversation: %v", err)
	}
	if got, _ := st.Transcript(ctx, "e1", "", 0); len(got) != 0 {
		t.Fatalf("an expired conversation still has a transcript: %v", got)
	}
	if _, err := st.Create(ctx, &engine.Session{ID: "e1"}, nil); err != nil {
		t.Fatalf("creating over an expired conversation: %v", err)
	}
}

// sessKept: a kept transcript (KeepTranscript) outlives its session, with
// the entries of turns after the keep; the transcript of a conversation
// not kept expires with it; keeping a conversation already gone does
// nothing.
func sessKept(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	ttl := time.Hour
	if env.Advance == nil {
		ttl = 300 * time.Millisecond
	}
	st := env.Open(store.SessionOptions{TTL: ttl})
	// The set-up must finish before k1's TTL runs out; on a real clock a
	// busy machine can stall past it, and then it is done again with new
	// conversations (what was stalled is not checked).
	k1, k2 := "k1", "k2"
	for try := 0; ; try++ {
		began := time.Now()
		err := func() error {
			for _, id := range []string{k1, k2} {
				if _, err := st.Create(ctx, &engine.Session{ID: id}, []store.Entry{bot("hi")}); err != nil {
					return err
				}
				if _, err := st.Turn(ctx, id, "m1", count); err != nil {
					return err
				}
			}
			if err := st.KeepTranscript(ctx, k1); err != nil {
				return err
			}
			// A turn after the keep: its entries are kept too.
			_, err := st.Turn(ctx, k1, "m2", count)
			return err
		}()
		if env.Advance == nil && time.Since(began) >= ttl/2 && try < 20 {
			k1, k2 = fmt.Sprintf("k1-%d", try), fmt.Sprintf("k2-%d", try)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		alive, err := st.Alive(ctx, []string{k1, k2})
		if err != nil {
			t.Fatal(err)
		}
		if !alive[k1] && !alive[k2] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("idle conversations did not expire within 20s")
		}
		if env.Advance != nil {
			env.Advance(ttl / 2)
		} else {
			time.Sleep(ttl / 4)
		}
	}
	if _, _, err := st.Load(ctx, k1); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("load of an expired conversation whose transcript is kept: %v, want ErrNotFound", err)
	}
	got, err := st.Transcript(ctx, k1, "", 0)
	if err != nil || len(got) != 3 || got[0].Text != "hi" || got[2].Text != "turn 2" {
		t.Fatalf("the kept transcript after its session expired: %+v, %v; want hi, turn 1, turn 2", got, err)
	}
	if after, err := st.Transcript(ctx, k1, got[0].ID, 0); err != nil || len(after) != 2 {
		t.Fatalf("the kept transcript after %s: %+v, %v", got[0].ID, after, err)
	}
	if got, _ := st.Transcript(ctx, k2, "", 0); len(got) != 0 {
		t.Fatalf("a transcript not kept outlived its session: %+v", got)
	}
	if err := st.KeepTranscript(ctx, k2); err != nil {
		t.Fatalf("keeping a conversation already gone: %v", err)
	}
	if got, _ := st.Transcript(ctx, k2, "", 0); len(got) != 0 {
		t.Fatalf("keeping a conversation already gone brought its transcript back: %+v", got)
	}
}

// PlacedID is id as st would place it (store.PlacedIDs): id itself when
// st takes it as it is, else id with a count added, placed. A store that
// does not place ids takes id.
func PlacedID(st any, id string) string {
	p, ok := st.(store.PlacedIDs)
	if !ok {
		return id
	}
	if placed, ok := p.PlaceID([]byte(id)); ok {
		return placed
	}
	for i := 0; ; i++ {
		if placed, ok := p.PlaceID([]byte(id + "-" + strconv.Itoa(i))); ok {
			return placed
		}
	}
}

// sessPending: a turn that leaves work is marked with the turn, Done
// clears the mark, and a mark left behind (its process died) is claimed
// by one sweeper at a time once it is old enough.
func sessPending(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	o := opts()
	o.Pending = func(es []store.Entry) bool { return len(es) > 0 && es[len(es)-1].Kind == "record" }
	st := env.Open(o)
	// p2 is placed on a store that places ids (a Redis Cluster: its marks
	// in the set of its own slot), p1 not.
	p2 := PlacedID(st, "p2")
	for _, id := range []string{"p1", p2} {
		if _, err := st.Create(ctx, &engine.Session{ID: id}, nil); err != nil {
			t.Fatal(err)
		}
	}
	step := func(kind string) store.Step {
		return func(s *engine.Session) (*engine.Session, []store.Entry, error) {
			return s, []store.Entry{{From: "system", Kind: kind, At: time.Now()}}, nil
		}
	}
	plain, err := st.Turn(ctx, "p1", "c1", step("message"))
	if err != nil || plain.Pending != "" {
		t.Fatalf("a turn with nothing left to do: mark %q (%v)", plain.Pending, err)
	}
	first, err := st.Turn(ctx, "p1", "c2", step("record"))
	if err != nil || first.Pending == "" {
		t.Fatalf("a turn with a record: mark %q (%v)", first.Pending, err)
	}
	if _, err := st.Turn(ctx, p2, "c1", step("record")); err != nil {
		t.Fatal(err)
	}
	other := env.Open(o)
	if n, err := other.PendingCount(ctx); n != 2 || err != nil {
		t.Fatalf("%d marks (%v), want 2", n, err)
	}
	if err := st.Done(ctx, first.Pending); err != nil {
		t.Fatal(err)
	}
	if err := st.Done(ctx, ""); err != nil {
		t.Fatal(err)
	}
	// DoneMany: one write for many marks, empty ones skipped, a mark
	// cleared already is no error.
	third, err := st.Turn(ctx, "p1", "c3", step("record"))
	if err != nil || third.Pending == "" {
		t.Fatalf("a third turn with a record: mark %q (%v)", third.Pending, err)
	}
	if n, err := other.PendingCount(ctx); n != 2 || err != nil {
		t.Fatalf("%d marks (%v), want 2 before DoneMany", n, err)
	}
	if err := st.DoneMany(ctx, []string{"", third.Pending, first.Pending}); err != nil {
		t.Fatal(err)
	}
	if n, err := other.PendingCount(ctx); n != 1 || err != nil {
		t.Fatalf("%d marks (%v) after DoneMany, want 1", n, err)
	}
	if err := st.DoneMany(ctx, nil); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if got, _ := other.ClaimPending(ctx, now.Add(-time.Minute), now, 10); len(got) != 0 {
		t.Fatalf("claimed a fresh mark: %v", got)
	}
	// Two sweepers in two processes race for the one mark left behind.
	var mu sync.Mutex
	var claims []store.Pending
	var wg sync.WaitGroup
	for _, p := range []SessionStore{st, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := p.ClaimPending(ctx, now.Add(time.Second), now.Add(2*time.Second), 10)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			claims = append(claims, got...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(claims) != 1 || claims[0].Conversation != p2 {
		t.Fatalf("claims = %v, want p2's mark once", claims)
	}
	// A claimer that failed puts it back; it is claimable again.
	if err := other.Mark(ctx, claims[0].Mark); err != nil {
		t.Fatal(err)
	}
	later := time.Now().Add(time.Minute)
	again, err := st.ClaimPending(ctx, later, later, 10)
	if err != nil || len(again) != 1 || again[0].Mark != claims[0].Mark {
		t.Fatalf("claim after Mark = %v %v", again, err)
	}
	if err := st.Done(ctx, again[0].Mark); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.PendingCount(ctx); n != 0 {
		t.Fatalf("%d marks left, want 0", n)
	}
	// PendingCreate marks a new conversation.
	o.PendingCreate = func(context.Context) bool { return true }
	r, err := env.Open(o).Create(ctx, &engine.Session{ID: "p3"}, nil)
	if err != nil || r.Pending == "" {
		t.Fatalf("create with PendingCreate: %+v %v", r, err)
	}
}

// sessLive: a turn's entries reach a listener of another process on the
// conversation's channel, with their ids.
func sessLive(t *testing.T, env SessionsEnv) {
	ctx := context.Background()
	st := env.Open(opts())
	if _, err := st.Create(ctx, &engine.Session{ID: "c4"}, []store.Entry{bot("hi")}); err != nil {
		t.Fatal(err)
	}
	l, err := env.Bus().Listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Subscribe(ctx, st.Channel("c4")); err != nil {
		t.Fatal(err)
	}
	if store.ConversationOf(st.Channel("c4")) != "c4" {
		t.Fatalf("ConversationOf(%q) is not c4", st.Channel("c4"))
	}
	waitSubscribed(t, env.Bus(), l, st.Channel("c4"))
	r, err := env.Open(opts()).Turn(ctx, "c4", "x", func(s *engine.Session) (*engine.Session, []store.Entry, error) {
		return s, []store.Entry{bot("one"), bot("two")}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-l.Messages():
			if m.Resync || m.Payload == probe {
				continue
			}
			got, err := store.DecodeLive(m.Payload)
			if err != nil || len(got) != 2 || got[0].ID != r.Entries[0].ID || got[1].Text != "two" {
				t.Fatalf("live = %+v %v, want %+v", got, err, r.Entries)
			}
			return
		case <-time.After(10 * time.Second):
			t.Fatal("no live message within 10s")
		}
	}
}

// probe is what waitSubscribed publishes.
const probe = "!probe"

// waitSubscribed publishes probes on ch until l receives one: then the
// subscription is in place on every path a later message takes.
func waitSubscribed(t *testing.T, b store.Bus, l store.Listener, ch string) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := b.Publish(ctx, ch, probe); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-l.Messages():
			if m.Payload == probe {
				return
			}
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the subscription did not deliver a probe within 10s")
		}
	}
}
