package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/playbook-dev/playbook/internal/servertest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// handoffAs walks a visitor (with a widget visitor id) through the bench
// playbook to its handoff, and waits until the chat is queued.
func handoffAs(t *testing.T, c *client, visitorID string) string {
	t.Helper()
	c.send(map[string]any{"type": "start", "playbook": "qualify", "page": "/pricing", "locale": "en-US", "visitor": map[string]any{"id": visitorID}})
	conv := c.next("welcome")["conversation"].(string)
	c.bot("Hi! What brings you here?")
	c.say("v1", "Talk to sales")
	c.bot("What's your work email?")
	c.say("v2", visitorID+"@acme.io")
	c.bot("How many employees?")
	c.say("v3", "201+")
	c.bot("Monthly budget in USD?")
	c.say("v4", "1500")
	c.entryOf("handoff", "system")
	return conv
}

// expire makes a conversation's session and transcript expire in Redis
// (as --idle-ttl does to an idle one) and waits until they are gone (on
// miniredis, moves its clock past their expiry).
func expire(t *testing.T, rds *redistest.Server, conv string) {
	t.Helper()
	ctx := context.Background()
	tag := rds.Prefix + "{c:" + conv + "}:"
	for _, k := range []string{"s", "msgs", "cid"} {
		rds.Client.PExpire(ctx, tag+k, time.Millisecond)
	}
	if rds.Mini != nil {
		// miniredis expires keys only when its clock is moved on.
		rds.Mini.FastForward(2 * time.Millisecond)
	}
	waitLong(t, "the session to expire", func() bool { return rds.Client.Exists(ctx, tag+"s").Val() == 0 })
}

// inList reports whether conv is in the sorted set key.
func inList(t *testing.T, rds *redistest.Server, key, conv string) bool {
	t.Helper()
	err := rds.Client.ZScore(context.Background(), key, conv).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return err == nil
}

// TestConversationKeysExpire: every key of a conversation carries an
// expiry: its session and transcript the idle time, its inbox record and
// the visitor's index of conversations the retention (--retention).
func TestConversationKeysExpire(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) { c.Retention = 48 * time.Hour })
	agent := signIn(t, ts, addAgent(t, ts, "Sam", "sales"))
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	conv := handoffAs(t, dial(t, ts), "keys1")

	var keys []string
	for _, pattern := range []string{rds.Prefix + "{c:" + conv + "}:*", rds.Prefix + "visitor:*"} {
		found, err := rds.Client.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, found...)
	}
	want := map[string]time.Duration{
		rds.Prefix + "{c:" + conv + "}:meta": 48 * time.Hour,
		rds.Prefix + "visitor:keys1:convs":   48 * time.Hour,
		rds.Prefix + "{c:" + conv + "}:s":    24 * time.Hour,
	}
	seen := 0
	for _, k := range keys {
		ttl, err := rds.Client.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Errorf("%s never expires (PTTL %v)", k, ttl)
			continue
		}
		if max, ok := want[k]; ok {
			seen++
			if ttl > max || ttl < max-time.Hour {
				t.Errorf("%s expires in %v, want about %v", k, ttl, max)
			}
		}
	}
	if seen != len(want) {
		t.Fatalf("keys of the conversation %v, want among them %v", keys, want)
	}
}

// TestExpiredChatsLeaveTheQueues: a queued chat whose session expired
// cannot be answered. It leaves the team's queue when the queue is listed,
// when an agent tries to take it (404, and it is not left in their Mine
// list), and in the sweep of any process.
func TestExpiredChatsLeaveTheQueues(t *testing.T) {
	rds := redistest.New(t)
	fast := func(c *servertest.Config) { c.RecoverAfter = time.Second }
	ts := startServer(t, rds, "../playbooks/bench", fast)
	sam := addAgent(t, ts, "Sam", "sales")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	queue, mine := rds.Prefix+"{t:sales}:queue", rds.Prefix+"agent:"+sam.ID+":mine"

	gone := handoffAs(t, dial(t, ts), "exp1")
	kept := handoffAs(t, dial(t, ts), "exp2")
	expire(t, rds, gone)
	var list []handoff.Conversation
	json.Unmarshal(agent.ok("GET", "/api/conversations?folder=unassigned", nil), &list)
	if len(list) != 1 || list[0].ID != kept {
		t.Fatalf("unassigned lists %+v, want only the live chat %s", list, kept)
	}
	if inList(t, rds, queue, gone) {
		t.Error("the expired chat is still in the queue after the listing")
	}

	expire(t, rds, kept)
	if code, body := agent.do("POST", "/api/conversations/"+kept+"/assign", map[string]any{}); code != 404 {
		t.Fatalf("taking an expired chat: %d %s, want 404", code, body)
	}
	if inList(t, rds, queue, kept) || inList(t, rds, mine, kept) {
		t.Error("the expired chat is still in the queue or the agent's Mine list after the take")
	}

	// Nobody lists the queue: the purge of a process removes the chat
	// (the first server's comes a minute after its start, the default;
	// this one's a second after its own).
	third := handoffAs(t, dial(t, ts), "exp3")
	expire(t, rds, third)
	startServer(t, rds, "../playbooks/bench", fast, func(c *servertest.Config) { c.PurgeEvery = time.Second })
	waitLong(t, "the purge to take the expired chat out of the queue", func() bool { return !inList(t, rds, queue, third) })
}

// TestLinkedTranscriptIsKept: the transcript of a finished chat with a
// person is kept with no expiry (the person's feed links it, issue 13),
// while the chat's other keys expire as ever; the transcript of a finished
// chat with nobody expires with its session.
func TestLinkedTranscriptIsKept(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	ts := startServer(t, rds, "../playbooks/bench")

	browse := dial(t, ts)
	browse.send(map[string]any{"type": "start", "playbook": "qualify", "page": "/", "locale": "en-US", "visitor": map[string]any{"id": "keep1"}})
	nobody := browse.next("welcome")["conversation"].(string)
	browse.bot("Hi! What brings you here?")
	browse.say("b1", "Just browsing")
	browse.bot("Enjoy! Ping us anytime.")

	// Nobody online: the chat becomes a lead, with a person, and ends.
	c := dial(t, ts)
	c.send(map[string]any{"type": "start", "playbook": "qualify", "page": "/", "locale": "en-US", "visitor": map[string]any{"id": "keep2"}})
	conv := c.next("welcome")["conversation"].(string)
	c.bot("Hi! What brings you here?")
	c.say("v1", "Talk to sales")
	c.bot("What's your work email?")
	c.say("v2", "keep2@acme.io")
	c.bot("How many employees?")
	c.say("v3", "201+")
	c.bot("Monthly budget in USD?")
	c.say("v4", "1500")
	c.bot("Our team is offline, we will email you")

	pttl := func(key string) time.Duration {
		t.Helper()
		d, err := rds.Client.PTTL(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tag := rds.Prefix + "{c:" + conv + "}:"
	waitLong(t, "the lead chat's transcript to be kept", func() bool { return pttl(tag+"msgs") == -1 })
	for _, k := range []string{"s", "cid", "meta"} {
		if d := pttl(tag + k); d <= 0 {
			t.Errorf("%s of the chat with a person: PTTL %v, want an expiry", k, d)
		}
	}
	if d := pttl(rds.Prefix + "{c:" + nobody + "}:msgs"); d <= 0 {
		t.Errorf("the transcript of the chat with nobody: PTTL %v, want an expiry", d)
	}
	if n := rds.Client.Exists(ctx, rds.Prefix+"{cc:"+conv+"}:transcript").Val(); n != 0 {
		t.Error("the transcript was copied into the CRM: the feed links it")
	}
}
