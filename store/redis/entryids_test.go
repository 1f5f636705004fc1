package redis_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestEntryIDsAsXADDMakesThem (issue 13, twelfth round): the turn
// script's entry ids are "ms-seq" as XADD '*' makes them: the server's
// clock in ms (TIME's seconds and microseconds, the microseconds' leading
// zeros kept), and after a last entry of the same or a later millisecond
// that millisecond and the next sequence numbers, past 9 as well; and the
// version counts on past a 9. The ids were made with string.format before
// and are made from texts now: both must give the same ids.
func TestEntryIDsAsXADDMakesThem(t *testing.T) {
	ctx := context.Background()
	st, srv := newStore(t)
	if srv.Mini != nil {
		t.Skip("needs a real redis-server (TIME, the script's clock)")
	}
	sess := &engine.Session{ID: "ids", Playbook: "p", Version: "h"}
	r, err := st.Create(ctx, sess, []redisstore.Entry{bot("hi")})
	if err != nil {
		t.Fatal(err)
	}
	version := r.Version
	// Ids of the server's clock: each id's ms between TIME before and after.
	for i := range 120 {
		t0, err := srv.Client.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		r, err := st.Commit(ctx, "ids", version, sess, "m"+strconv.Itoa(i), []redisstore.Entry{bot("a"), bot("b")})
		if err != nil {
			t.Fatal(err)
		}
		t1, err := srv.Client.Time(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if r.Version != version+1 {
			t.Fatalf("turn %d: version %d after %d", i, r.Version, version)
		}
		version = r.Version
		for j, e := range r.Entries {
			ms, seq, ok := strings.Cut(e.ID, "-")
			n, err := strconv.ParseInt(ms, 10, 64)
			if !ok || err != nil || strconv.FormatInt(n, 10) != ms {
				t.Fatalf("turn %d: id %q is not ms-seq", i, e.ID)
			}
			if n < t0.UnixMilli() || n > t1.UnixMilli() {
				t.Errorf("turn %d: id %q, want its ms in [%d, %d]", i, e.ID, t0.UnixMilli(), t1.UnixMilli())
			}
			if j > 0 && !redisstore.IDLess(r.Entries[j-1].ID, e.ID) {
				t.Errorf("turn %d: id %q after %q", i, e.ID, r.Entries[j-1].ID)
			}
			if _, err := strconv.Atoi(seq); err != nil {
				t.Fatalf("turn %d: id %q", i, e.ID)
			}
		}
	}
	// A last entry of a later millisecond (a clock that went back): its
	// millisecond and the sequence numbers after its own.
	key := srv.Prefix + "{c:ids}:msgs"
	future := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	if err := srv.Client.RPush(ctx, key, future+"-8 {}").Err(); err != nil {
		t.Fatal(err)
	}
	r, err = st.Commit(ctx, "ids", version, sess, "", []redisstore.Entry{bot("a"), bot("b"), bot("c"), bot("d")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.Entries {
		got = append(got, e.ID)
	}
	want := []string{future + "-9", future + "-10", future + "-11", future + "-12"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ids after %s-8: %v, want %v", future, got, want)
	}
	stored, err := srv.Client.LRange(ctx, key, -4, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range stored {
		if id, _, _ := strings.Cut(s, " "); id != want[i] {
			t.Errorf("stored entry %d: %q, want the id %s", i, s, want[i])
		}
	}
}
