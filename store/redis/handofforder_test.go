package redis_test

import (
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// TestHandOffComparesStartedRecordsAtOnce (issue 13, fourteenth round): the
// record a handoff's new-chat notice was built from goes to the handOff
// script as its fields joined (JoinFields), which the script compares
// with the record's HGETALL joined, one table.concat, before it walks
// the text field by field (about 12 k of a handoff's Redis instructions,
// callgrind, 200 bench-shaped handoffs). For a record as a start writes
// it (Inbox.Start, and the start's turn script, the bench's: a new
// visitor's and a returning one's), the text is HGETALL's order: the walk
// is not needed. It failed first: the text was sorted by name.
func TestHandOffComparesStartedRecordsAtOnce(t *testing.T) {
	ctx, rdb, p := realRedis(t, "HGETALL's order as Redis keeps it")
	inbox := redisstore.NewInbox(rdb, p)
	st := redisstore.NewEngine(rdb, p).Sessions(store.SessionOptions{TTL: time.Hour}).(*redisstore.Store)
	key := store.FunnelKey{Day: "2026-12-06", Playbook: "p", Version: "v1"}
	t0 := time.UnixMilli(1800000000123).UTC()
	record := func(id string, v store.Visitor, n int) *store.Conversation {
		at := t0.Add(time.Duration(n) * time.Second)
		return &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "qualify", Visitor: v, Labels: []string{}, StartedAt: at, UpdatedAt: at}
	}
	ordered := func(id string) string {
		t.Helper()
		v, err := rdb.Eval(ctx, "return redis.call('HGETALL', KEYS[1])", []string{p + "{c:" + id + "}:meta"}).StringSlice()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(v, "\x00")
	}
	returning := 0
	check := func(what, id string) {
		t.Helper()
		fields, err := rdb.HGetAll(ctx, p+"{c:"+id+"}:meta").Result()
		if err != nil {
			t.Fatal(err)
		}
		if fields["previous"] != "" {
			returning++
		}
		got, ok := redisstore.JoinFields(fields)
		if want := ordered(id); !ok || got != want {
			t.Errorf("%s: joined %q, HGETALL's order %q", what, got, want)
		}
	}
	n := 0
	for _, v := range []store.Visitor{{ID: "a1", Page: "/bench"}, {ID: "a1", Page: "/bench"}, {Email: "ann@acme.com", Name: "Ann"}} {
		n++
		id := "i" + string(rune('0'+n))
		if err := inbox.Start(ctx, record(id, v, n), time.Hour); err != nil {
			t.Fatal(err)
		}
		check("Inbox.Start "+id, id)
	}
	for _, v := range []store.Visitor{{ID: "s1", Page: "/bench"}, {ID: "s1", Page: "/bench"}, {ID: "s2", Name: "Bo", Email: "bo@acme.com", Page: "/pricing"}} {
		n++
		id := "s" + string(rune('0'+n))
		if _, err := st.CreateStarted(ctx, &engine.Session{ID: id}, []redisstore.Entry{bot("hi")}, storetest.CountedFold(key, "started"), time.Hour, record(id, v, n), time.Hour); err != nil {
			t.Fatal(err)
		}
		check("the start's script "+id, id)
	}
	if returning < 2 {
		t.Errorf("%d returning visitors' records checked, want 2", returning)
	}
}

// TestHandOffNoticeNotFooledByANulInAValue: the compare at once joins the
// record's HGETALL with NUL bytes, so a record whose value holds NUL bytes
// can join to the caller's text with a field fewer (started_at holding
// "T\0updated_at\0T", updated_at gone): the field count sent beside the
// text tells them apart, and the notice does not go out in the step (it
// was built from a record that is not the one stored).
func TestHandOffNoticeNotFooledByANulInAValue(t *testing.T) {
	ctx, rdb, p := realRedis(t, "HGETALL's order as Redis keeps it")
	inbox := redisstore.NewInbox(rdb, p)
	at := time.UnixMilli(1_700_000_000_000)
	id := "nul-1"
	c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "qualify", Labels: []string{},
		Visitor: store.Visitor{ID: "v1", Page: "/a"}, StartedAt: at, UpdatedAt: at}
	if err := inbox.Start(ctx, c, time.Hour); err != nil {
		t.Fatal(err)
	}
	key := p + "{c:" + id + "}:meta"
	before, err := rdb.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	joined, _ := redisstore.JoinFields(before)
	st := before["started_at"]
	if err := rdb.HSet(ctx, key, "started_at", st+"\x00updated_at\x00"+before["updated_at"]).Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HDel(ctx, key, "updated_at").Err(); err != nil {
		t.Fatal(err)
	}
	v, err := rdb.Eval(ctx, "return redis.call('HGETALL', KEYS[1])", []string{key}).StringSlice()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(v, "\x00") != joined {
		t.Fatalf("the changed record joins to %q, want the caller's %q", strings.Join(v, "\x00"), joined)
	}
	build := func(c *store.Conversation) (string, error) { return `{"type":"notify"}`, nil }
	h := store.Handoff{Team: "sales", Notice: &store.HandoffNotice{Channel: p + "inbox", Before: before, Build: build}}
	got, _, err := inbox.HandOff(ctx, id, h, at.Add(time.Second), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got.NoticeSent {
		t.Error("the notice went out in the step for a record that is not the one it was built from")
	}
}
