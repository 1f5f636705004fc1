package redis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestHandOffStepCommands (issue 13): the bench's handoff on one node (a
// bot's first, with the visitor's email, the bot's last message, the wait
// timer and the new-chat notice built from the record read with the turn)
// is one EVALSHA with one key (the record's: the team's, the timers' and
// the earlier chats' keys are made in the script from the prefix), and
// its script runs only the commands the step needs: no read of the record
// after the step (the caller knows it: it built the notice from it), no
// HDEL of fields the record does not have. Without a notice, the same
// less the PUBLISH. The record the step leaves is the one HandOff
// returns.
func TestHandOffStepCommands(t *testing.T) {
	ctx, rdb, p := monitoredRedis(t)
	inbox := redisstore.NewInbox(rdb, p)
	at := time.UnixMilli(1_700_000_000_000)
	build := func(c *store.Conversation) (string, error) {
		j, err := json.Marshal(map[string]any{"type": "notify", "kind": "new_chat", "conversation": c})
		return string(j), err
	}
	for i, notice := range []bool{true, false} {
		id := "bench-" + strconv.Itoa(i)
		c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "qualify", Labels: []string{},
			Visitor: store.Visitor{ID: "v-" + id, Page: "/bench"}, StartedAt: at, UpdatedAt: at}
		if err := inbox.Start(ctx, c, time.Hour); err != nil {
			t.Fatal(err)
		}
		before, err := rdb.HGetAll(ctx, p+"{c:"+id+"}:meta").Result()
		if err != nil {
			t.Fatal(err)
		}
		h := store.Handoff{Team: "sales", Card: "sales", Visitor: store.Visitor{ID: "v-" + id, Email: "visitor@acme.com", Page: "/bench"},
			Last:   &store.Last{From: "bot", Text: "Connecting you to sales...", At: at},
			Timers: []store.Timer{{ID: id + ":6:sales:0", At: at.Add(2 * time.Minute)}}}
		if notice {
			h.Notice = &store.HandoffNotice{Channel: p + "inbox", Before: before, Build: build}
		}
		mon := startMonitor(t, rdb.Options().Addr, p)
		got, _, err := inbox.HandOff(ctx, id, h, at.Add(time.Second), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		end := p + "end"
		if err := rdb.Get(ctx, end).Err(); err != nil && err != goredis.Nil {
			t.Fatal(err)
		}
		cmds := mon.until(t, "GET", end)
		if len(cmds) == 0 || !strings.EqualFold(cmds[0][0], "evalsha") {
			t.Fatalf("notice %v: sent %q, want an evalsha first", notice, cmds)
		}
		if keys := cmds[0][2]; keys != "1" {
			t.Errorf("notice %v: the evalsha has %s keys, want 1: %q", notice, keys, cmds[0])
		}
		var ran []string
		for _, cmd := range cmds[1:] {
			ran = append(ran, strings.ToUpper(cmd[0])+" "+strings.TrimPrefix(cmd[1], p))
		}
		want := []string{"HGETALL {c:" + id + "}:meta", "HSET {c:" + id + "}:meta", "PEXPIRE {c:" + id + "}:meta",
			"ZADD {t:sales}:queue", "ZADD {t:sales}:open", "SADD teams", "ZADD timers"}
		if notice {
			want = append(want, "PUBLISH inbox")
		}
		want = append(want, "HGETALL {t:sales}:config", "ZRANK {t:sales}:queue", "LRANGE {t:sales}:waits")
		if !slices.Equal(ran, want) {
			t.Errorf("notice %v: the step ran\n  %s\nwant\n  %s", notice, strings.Join(ran, "\n  "), strings.Join(want, "\n  "))
		}
		if got.NoticeSent != notice {
			t.Errorf("notice %v: NoticeSent %v", notice, got.NoticeSent)
		}
		checkReturnedRecord(t, inbox, fmt.Sprintf("notice %v", notice), got)
	}
}

// TestHandOffReturnsTheRecordItLeaves: HandOff returns the record as its
// script leaves it (made from the record before the step, handedOff)
// for a record the script must change more of: an agent's and a priority
// to take out, an older record's visitor with long names, and for the
// step alone (as on a Cluster) as for the whole one.
func TestHandOffReturnsTheRecordItLeaves(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	p := rds.Prefix
	inbox := redisstore.NewInbox(rds.Client, p)
	at := time.UnixMilli(1_700_000_000_000)
	for i, h := range []store.Handoff{
		{Team: "support", Visitor: store.Visitor{Email: "ann@acme.com"}},
		{Team: "sales", Priority: "high", Card: "ask", Last: &store.Last{From: "bot", Text: "a/b", At: at}},
		{Team: "sales"},
	} {
		id := "r" + strconv.Itoa(i)
		c := &store.Conversation{ID: id, Status: store.StatusBot, Playbook: "qualify", Labels: []string{"x"},
			Visitor: store.Visitor{ID: "v1", Page: "/a"}, StartedAt: at, UpdatedAt: at}
		if err := inbox.Start(ctx, c, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := rds.Client.HSet(ctx, p+"{c:"+id+"}:meta", "assignee", "ag1", "assignee_name", "Bo", "priority", "low", "team", "sales",
			"visitor", `{"id":"v1","name":"Ann","page":"/a/b"}`).Err(); err != nil {
			t.Fatal(err)
		}
		got, _, err := inbox.HandOff(ctx, id, h, at.Add(time.Second), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		checkReturnedRecord(t, inbox, id, got)
		if got.Assignee != "" || got.Priority != h.Priority || got.Visitor.Name != "Ann" || got.Team != h.Team {
			t.Errorf("%s: handed off %+v", id, got)
		}
	}
}

// checkReturnedRecord compares the record HandOff returned with the one
// stored, but for the fields only the step's reply sets.
func checkReturnedRecord(t *testing.T, inbox *redisstore.Inbox, what string, got *store.Conversation) {
	t.Helper()
	stored, err := inbox.Conversation(context.Background(), got.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.QueuePosition, stored.NoticeSent, stored.PreviousRead = got.QueuePosition, got.NoticeSent, got.PreviousRead
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(stored)
	if string(a) != string(b) {
		t.Errorf("%s: HandOff returned\n  %s\nthe record is\n  %s", what, a, b)
	}
}
