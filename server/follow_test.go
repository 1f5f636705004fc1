package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/internal/servertest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestTurnsPublishedOnlyWhenAnotherProcessFollows (issue 13): a visitor
// alone with its conversation on process A makes turns that are not
// published (no PUBLISH on its channel: a probe published after them is
// the first message there); once an agent on process B follows it, the
// visitor's turns on A reach the agent on B and the agent's replies on B
// reach the visitor on A; a second tab of the visitor on B gets the tab
// on A's turns and A gets B's; and after every follower on B left, A's
// turns are not published again.
func TestTurnsPublishedOnlyWhenAnotherProcessFollows(t *testing.T) {
	rds := redistest.New(t)
	if rds.Mini != nil {
		t.Skip("needs a real Redis (PUBLISH order against a probe)")
	}
	srvA := startServer(t, rds, "../playbooks/bench")
	srvB := startServer(t, rds, "../playbooks/bench")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ps := rds.Client.PSubscribe(ctx, rds.Prefix+"{c:*}:live")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	msgs := ps.Channel()
	probes := 0
	// published tells whether anything but signals was published on conv's
	// channel since the last call: a probe published now comes first when
	// nothing was.
	published := func(conv string) []string {
		t.Helper()
		probes++
		probe := "!probe" + strings.Repeat(".", probes)
		if err := rds.Client.Publish(ctx, rds.Prefix+"{c:"+conv+"}:live", probe).Err(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for {
			select {
			case m := <-msgs:
				if m.Payload == probe {
					return got
				}
				if !strings.HasPrefix(m.Payload, "!") {
					got = append(got, m.Payload)
				}
			case <-ctx.Done():
				t.Fatal("the probe was not heard")
			}
		}
	}

	v := dial(t, srvA)
	token, conv := v.start("qualify")
	v.bot("Hi! What brings you here?")
	v.say("v1", "Talk to sales")
	v.bot("What's your work email?")
	if got := published(conv); len(got) > 0 {
		t.Fatalf("the start and the turn of a visitor alone on A were published: %q", got)
	}

	// The visitor's second tab on B: each tab gets the other's turns.
	tab := dial(t, srvB)
	tab.send(map[string]any{"type": "resume", "token": token})
	tab.next("welcome")
	v.say("v2", "ana@acme.io")
	v.bot("How many employees?")
	for got := tab.entryOf("message", "bot"); got["text"] != "How many employees?"; got = tab.entryOf("message", "bot") {
	}
	tab.say("v3", "201+")
	tab.bot("Monthly budget in USD?")
	for got := v.entryOf("message", "bot"); got["text"] != "Monthly budget in USD?"; got = v.entryOf("message", "bot") {
	}
	tab.conn.Close()
	for range tab.frames { // the tab's end
	}

	// An agent on B takes the chat and follows it.
	sam := addAgent(t, srvB, "Sam", "sales")
	agent := signIn(t, srvB, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	feed := agent.feed()
	v.say("v4", "1500")
	v.entryOf("handoff", "system")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	v.entryOf("joined", "system")
	feed.send(map[string]any{"type": "follow", "conversation": conv})
	v.say("v5", "Hi, are you there?")
	for got := feed.entryOf("message", "visitor"); got["text"] != "Hi, are you there?"; got = feed.entryOf("message", "visitor") {
	}
	agent.ok("POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "Sam here.", "client_id": "a1"})
	if got := v.entryOf("message", "agent"); got["text"] != "Sam here." {
		t.Fatalf("visitor on A got %v, want the agent's reply made on B", got)
	}
	v.say("v6", "Thanks")
	for got := feed.entryOf("message", "visitor"); got["text"] != "Thanks"; got = feed.entryOf("message", "visitor") {
	}

	// The agent's tab on B closes: A is alone again.
	feed.conn.Close()
	for range feed.frames {
	}
	eventually(t, "B's registration removed", func() bool {
		n, err := rds.Client.HLen(ctx, rds.Prefix+"{c:"+conv+"}:fw").Result()
		return err == nil && n == 1
	})
	published(conv)
	v.say("v7", "Still there?")
	if got := published(conv); len(got) > 0 {
		t.Fatalf("the visitor's turn on A was published after B's followers left: %q", got)
	}
}

// TestFollowersRegisteredAgainAfterABreak (issue 13): the registrations
// of a conversation's followers are lost (as a failover can lose them)
// while both processes' pub/sub connections are cut; when the hubs hear
// again they register every followed conversation before their
// followers catch up, so the visitor's next turn on A still reaches the
// agent following on B.
func TestFollowersRegisteredAgainAfterABreak(t *testing.T) {
	rds := redistest.New(t)
	if rds.Mini != nil {
		t.Skip("needs a real Redis (CLIENT KILL)")
	}
	name := fmt.Sprintf("followtest-%d", rand.Int64())
	opt := *rds.Client.Options()
	opt.ClientName = name
	named := goredis.NewClient(&opt)
	t.Cleanup(func() { named.Close() })
	onNamed := func(c *servertest.Config) { c.Engine = redisstore.NewEngine(named, c.Prefix) }
	srvA := startServer(t, rds, "../playbooks/bench", onNamed)
	srvB := startServer(t, rds, "../playbooks/bench", onNamed)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sam := addAgent(t, srvB, "Sam", "sales")
	agent := signIn(t, srvB, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	feed := agent.feed()
	v := dial(t, srvA)
	conv := toHandoff(t, v)
	v.entryOf("handoff", "system")
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	v.entryOf("joined", "system")
	feed.send(map[string]any{"type": "follow", "conversation": conv})
	v.say("v5", "Before the break")
	for got := feed.entryOf("message", "visitor"); got["text"] != "Before the break"; got = feed.entryOf("message", "visitor") {
	}

	fw := rds.Prefix + "{c:" + conv + "}:fw"
	if err := rds.Client.Del(ctx, fw).Err(); err != nil {
		t.Fatal(err)
	}
	list, err := rds.Client.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+name+" ") || strings.Contains(line, " psub=0 ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := rds.Client.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed != 2 {
		t.Fatalf("killed %d pub/sub connections, want the two servers' hubs':\n%s", killed, list)
	}
	eventually(t, "both processes registered again", func() bool {
		n, err := rds.Client.HLen(ctx, fw).Result()
		return err == nil && n == 2
	})
	v.say("v6", "After the break")
	for got := feed.entryOf("message", "visitor"); got["text"] != "After the break"; got = feed.entryOf("message", "visitor") {
	}
	agent.ok("POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "Still here.", "client_id": "a2"})
	if got := v.entryOf("message", "agent"); got["text"] != "Still here." {
		t.Fatalf("visitor on A got %v, want the agent's reply made on B", got)
	}
}
