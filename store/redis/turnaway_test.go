package redis_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"github.com/playbook-dev/playbook/store/storetest"
)

// TestTurnRecordsAwayInTheScript (issue 13, tenth round): a turn whose
// handoff found its team away (the bench's lead: "offline") asks, in
// store.TurnReads.Away, for the team to be recorded on the conversation's
// inbox record, as Inbox.Away does. The turn script does it (the record
// is in the conversation's slot): one EVALSHA, the record's team read
// with its status (HMGET: a record without a status is none, as the
// inbox's transitions take it) and written (HSET), and no `away` script
// after the turn (it was an EVALSHA, EXISTS, HGET and HSET of its own, and
// a round trip). A team the record has is kept; a missing record is left
// missing and AwayRecorded false (the caller's Away then fails, the mark
// stays for the sweep, as before). With a counted fold (a4, a5) the
// record is the script's KEYS[6], after the row and the rows (eleventh
// round: no unused keys).
func TestTurnRecordsAwayInTheScript(t *testing.T) {
	ctx, rdb, p := monitoredRedis(t)
	st := redisstore.New(rdb, redisstore.Options{Prefix: p, TTL: time.Hour})
	inbox := redisstore.NewInbox(rdb, p)
	for _, tc := range []struct {
		id, had, want       string
		record, ok, counted bool
	}{
		{id: "a1", record: true, want: "sales", ok: true},
		{id: "a2", record: true, had: "support", want: "support", ok: true},
		{id: "a3"},
		{id: "a4", record: true, want: "sales", ok: true, counted: true},
		{id: "a5", counted: true},
	} {
		sess := &engine.Session{ID: tc.id, Playbook: "qualify", Version: "h"}
		if _, err := st.Create(ctx, sess, []store.Entry{bot("hi")}); err != nil {
			t.Fatal(err)
		}
		if tc.record {
			c := &store.Conversation{ID: tc.id, Status: store.StatusBot, Team: tc.had, Playbook: "qualify", Labels: []string{}}
			if err := inbox.Start(ctx, c, time.Hour); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := st.Load(ctx, tc.id); err != nil {
			t.Fatal(err)
		}
		mon := startMonitor(t, rdb.Options().Addr, p)
		reads := &store.TurnReads{}
		_, err := st.TurnFolded(store.WithTurnReads(ctx, reads), tc.id, "m1", time.Hour, func(sess *engine.Session) (*engine.Session, []store.Entry, *store.FunnelFold, error) {
			reads.Reset()
			entries := []store.Entry{{From: "system", Kind: "away", Text: "Sales is away", Data: map[string]any{"team": "sales"}}, bot("We will email you")}
			reads.Away = "sales"
			if tc.counted {
				return sess, entries, storetest.CountedFold(store.FunnelKey{Day: "2026-12-06", Playbook: "qualify", Version: "h"}, "away|sales"), nil
			}
			return sess, entries, nil, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		end := p + "end"
		if err := rdb.Get(ctx, end).Err(); err != nil && err != goredis.Nil {
			t.Fatal(err)
		}
		var evalshas int
		var meta []string
		for _, cmd := range mon.until(t, "GET", end) {
			if strings.EqualFold(cmd[0], "evalsha") {
				evalshas++
			}
			if len(cmd) > 1 && cmd[1] == p+"{c:"+tc.id+"}:meta" {
				meta = append(meta, strings.ToUpper(cmd[0]))
			}
		}
		want := []string{"HMGET"}
		if tc.record && tc.had == "" {
			want = append(want, "HSET")
		}
		if evalshas != 1 || !slices.Equal(meta, want) {
			t.Errorf("%s: %d EVALSHAs, the record's commands %q; want 1, %q", tc.id, evalshas, meta, want)
		}
		if reads.AwayRecorded != tc.ok {
			t.Errorf("%s: AwayRecorded %v, want %v", tc.id, reads.AwayRecorded, tc.ok)
		}
		c, err := inbox.Conversation(ctx, tc.id)
		switch {
		case !tc.record:
			if err == nil {
				t.Errorf("%s: a record was made: %+v", tc.id, c)
			}
		case err != nil:
			t.Fatal(err)
		case c.Team != tc.want:
			t.Errorf("%s: team %q, want %q", tc.id, c.Team, tc.want)
		}
	}
	if got := storetest.FunnelCounters(t, redisstore.NewFunnels(rdb, p)); got["away|sales"] != 2 {
		t.Errorf("counters %v, want away|sales 2 (a4 and a5)", got)
	}
}
