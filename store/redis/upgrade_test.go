package redis_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestTranscriptStoredAsStreamStaysReadable: a conversation stored before
// transcripts were lists and sessions strings (its session a hash, its
// transcript a Redis stream of "e" fields, its client ids answered with
// stream ids) reads as before after the upgrade,
// resumes after a stream id, and its next turns append to the same stream
// with ids that keep increasing; a new conversation's transcript is a
// list, whose ids compare the same way.
func TestTranscriptStoredAsStreamStaysReadable(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t)
	// The old layout, as the turn script wrote it.
	key := func(k string) string { return srv.Prefix + "{c:old}:" + k }
	sess, _ := json.Marshal(&engine.Session{ID: "old", Playbook: "p", Version: "h"})
	if err := srv.Client.HSet(ctx, key("s"), "v", 2, "s", sess).Err(); err != nil {
		t.Fatal(err)
	}
	var old []string
	for _, text := range []string{"hi", "what's your email?"} {
		e, _ := json.Marshal(bot(text))
		id, err := srv.Client.XAdd(ctx, &goredis.XAddArgs{Stream: key("msgs"), Values: []any{"e", e}}).Result()
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, id)
	}
	if err := srv.Client.HSet(ctx, key("cid"), "m1", old[1]+" "+old[1]).Err(); err != nil {
		t.Fatal(err)
	}

	// A session stored as a hash reads as before (a store without a cache).
	if got, v, err := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix, CacheSize: -1}).Load(ctx, "old"); err != nil || v != 2 || got.Playbook != "p" {
		t.Fatalf("old session: %+v version %d %v, want version 2", got, v, err)
	}
	all, err := st.Transcript(ctx, "old", "", 0)
	if err != nil || len(all) != 2 || all[0].ID != old[0] || all[1].Text != "what's your email?" {
		t.Fatalf("old transcript = %+v %v, want ids %v", all, err, old)
	}
	if after, err := st.Transcript(ctx, "old", old[0], 0); err != nil || len(after) != 1 || after[0].ID != old[1] {
		t.Fatalf("old transcript after %s = %+v %v", old[0], after, err)
	}
	// A resent message answered before the upgrade.
	r, err := st.Turn(ctx, "old", "m1", count)
	if err != nil || !r.Duplicate || len(r.Entries) != 1 || r.Entries[0].ID != old[1] {
		t.Fatalf("resent m1 = %+v %v, want the entry %s", r, err, old[1])
	}
	r, err = st.Turn(ctx, "old", "m2", count)
	if err != nil || r.Duplicate || len(r.Entries) != 1 {
		t.Fatalf("turn m2 = %+v %v", r, err)
	}
	if typ := srv.Client.Type(ctx, key("msgs")).Val(); typ != "stream" {
		t.Fatalf("the old transcript became a %s, want it to stay a stream", typ)
	}
	// The session, a hash (v, s) before, is a string "VERSION JSON" after
	// its next turn, and reads the same.
	if typ := srv.Client.Type(ctx, key("s")).Val(); typ != "string" {
		t.Fatalf("the old session is a %s after a turn, want a string", typ)
	}
	if got, v, err := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix}).Load(ctx, "old"); err != nil || v != 3 || got.Turn != 1 || got.Playbook != "p" {
		t.Fatalf("the upgraded session: %+v version %d %v, want version 3, turn 1", got, v, err)
	}
	if ttl := srv.Client.PTTL(ctx, key("s")).Val(); ttl <= 0 {
		t.Fatalf("the upgraded session's ttl is %v", ttl)
	}
	all, err = st.Transcript(ctx, "old", old[1], 0)
	if err != nil || len(all) != 1 || all[0].ID != r.Entries[0].ID || all[0].Text != "turn 1" {
		t.Fatalf("after the upgrade's turn: %+v %v, want %+v", all, err, r.Entries)
	}

	encodedIsTranscript(t, st, "old")

	// A new conversation: a list, ids increasing within a millisecond.
	if _, err := st.Create(ctx, &engine.Session{ID: "new"}, []redisstore.Entry{bot("a"), bot("b"), bot("c")}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := st.Turn(ctx, "new", "", count); err != nil {
			t.Fatal(err)
		}
	}
	if typ := srv.Client.Type(ctx, srv.Prefix+"{c:new}:msgs").Val(); typ != "list" {
		t.Fatalf("a new transcript is a %s, want a list", typ)
	}
	all, err = st.Transcript(ctx, "new", "", 0)
	if err != nil || len(all) != 6 {
		t.Fatalf("new transcript = %+v %v", all, err)
	}
	for i := 1; i < len(all); i++ {
		if !redisstore.IDLess(all[i-1].ID, all[i].ID) {
			t.Fatalf("ids %s then %s: not increasing", all[i-1].ID, all[i].ID)
		}
	}
	page, err := st.Transcript(ctx, "new", all[1].ID, 2)
	if err != nil || len(page) != 2 || page[0].ID != all[2].ID || page[1].ID != all[3].ID {
		t.Fatalf("2 after %s = %+v %v", all[1].ID, page, err)
	}
	encodedIsTranscript(t, st, "new")
}

// encodedIsTranscript checks that the CRM's archive of conversation id,
// made from the stored bytes, decodes to its transcript.
func encodedIsTranscript(t *testing.T, st *redisstore.Store, id string) {
	t.Helper()
	ctx := context.Background()
	want, err := st.Transcript(ctx, id, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.EncodedTranscript(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.DecodeEntries(b)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: the encoded transcript decodes to %+v %v, want %+v", id, got, err, want)
	}
	if b, err := st.EncodedTranscript(ctx, "missing"); b != nil || err != nil {
		t.Fatalf("a missing conversation's encoded transcript: %q %v", b, err)
	}
}

// TestSessionStoredForm: a session is stored without its id and with its
// times as Unix milliseconds (t0, t1), and reads back whole (its id from
// the key, its times to the millisecond), from Redis and from the cache
// alike; a session stored in the older form (id, started_at and
// updated_at as RFC 3339 texts) reads as before.
func TestSessionStoredForm(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t)
	at := time.Date(2026, 12, 4, 18, 58, 27, 725055113, time.UTC)
	sess := &engine.Session{ID: "new", Playbook: "p", Version: "h", Status: engine.StatusWaiting, Vars: map[string]any{"email": "a@b.co"}, StartedAt: at, UpdatedAt: at.Add(time.Second)}
	if _, err := st.Create(ctx, sess, []store.Entry{bot("hi")}); err != nil {
		t.Fatal(err)
	}
	raw := srv.Client.Get(ctx, srv.Prefix+"{c:new}:s").Val()
	if strings.Contains(raw, `"id"`) || strings.Contains(raw, "started_at") || !strings.Contains(raw, `"t0":1796410707725`) {
		t.Fatalf("stored session %s: want no id, the times in ms", raw)
	}
	want := *sess
	want.StartedAt, want.UpdatedAt = at.Truncate(time.Millisecond), at.Add(time.Second).Truncate(time.Millisecond)
	fresh := redisstore.New(srv.Client, redisstore.Options{Prefix: srv.Prefix, CacheSize: -1})
	for name, s := range map[string]*redisstore.Store{"cached": st, "read": fresh} {
		got, _, err := s.Load(ctx, "new")
		if err != nil || !reflect.DeepEqual(*got, want) {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, want)
		}
	}

	old := `1 {"id":"old","playbook":"p","version":"h","status":"waiting","card":0,"locale":"","turn":0,"visitor":{},"started_at":"2026-12-04T18:58:27.725055113Z","updated_at":"2026-12-04T18:58:28.725055113Z"}`
	if err := srv.Client.Set(ctx, srv.Prefix+"{c:old}:s", old, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	got, v, err := fresh.Load(ctx, "old")
	if err != nil || v != 1 || got.ID != "old" || !got.StartedAt.Equal(at) || !got.UpdatedAt.Equal(at.Add(time.Second)) {
		t.Fatalf("older session: %+v version %d, %v", got, v, err)
	}
}
