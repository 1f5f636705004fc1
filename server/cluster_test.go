package server_test

import (
	"context"
	"encoding/json"
	"github.com/playbook-dev/playbook/internal/servertest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestLiveChatOnRedisCluster runs the live-chat path on a real 3-master
// Redis Cluster (PLAYBOOK_REDIS_CLUSTER; scripts/test starts one): agents
// created, handoff, the chat in the team's Unassigned list, take, the
// agent's reply reaching the visitor, resolve, rating. Every step must
// succeed and no command may fail with CROSSSLOT (issue 12).
func TestLiveChatOnRedisCluster(t *testing.T) {
	cl := redistest.NewCluster(t)
	onCluster := func(c *servertest.Config) { c.Engine = redisstore.NewEngine(cl.Client, c.Prefix) }
	ts := startServer(t, &redistest.Server{Prefix: cl.Prefix}, "../playbooks/bench", onCluster)
	ctx := context.Background()
	sam := addAgent(t, ts, "Sam", "sales")
	addAgent(t, ts, "Kim", "sales", "support")
	agent := signIn(t, ts, sam)
	agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	feed := agent.feed()

	v := dial(t, ts)
	conv := toHandoff(t, v)
	v.bot("Connecting you to sales...")
	v.entryOf("handoff", "system")
	if n := feed.next("notify"); n["kind"] != "new_chat" {
		t.Fatalf("notify = %v", n)
	}
	var queue []handoff.Conversation
	json.Unmarshal(agent.ok("GET", "/api/conversations?folder=unassigned", nil), &queue)
	if len(queue) != 1 || queue[0].ID != conv || queue[0].Team != "sales" {
		t.Fatalf("unassigned = %+v, want the handed-off chat %s", queue, conv)
	}
	agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	if j := v.entryOf("joined", "system"); j["author"] != "Sam" {
		t.Fatalf("joined entry = %v", j)
	}
	var mine []handoff.Conversation
	json.Unmarshal(agent.ok("GET", "/api/conversations?folder=mine", nil), &mine)
	if len(mine) != 1 || mine[0].ID != conv {
		t.Fatalf("mine = %+v, want the taken chat %s", mine, conv)
	}
	json.Unmarshal(agent.ok("GET", "/api/conversations?folder=unassigned", nil), &queue)
	if len(queue) != 0 {
		t.Fatalf("unassigned after the take = %+v, want empty", queue)
	}
	agent.ok("POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "Hello, Sam here.", "client_id": "a1"})
	if got := v.entryOf("message", "agent"); got["text"] != "Hello, Sam here." {
		t.Fatalf("visitor got %v", got)
	}
	agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
	v.entryOf("resolved", "system")
	v.send(map[string]any{"type": "rating", "score": 5, "comment": "quick!"})
	v.next("rated")
	c, err := ts.srv.App().Inbox().Conversation(ctx, conv)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != handoff.StatusResolved || c.CSAT == nil || c.CSAT.Score != 5 {
		t.Fatalf("conversation = %+v", c)
	}
	var closed []handoff.Conversation
	json.Unmarshal(agent.ok("GET", "/api/conversations?folder=closed", nil), &closed)
	if len(closed) != 1 || closed[0].ID != conv {
		t.Fatalf("closed = %+v, want %s", closed, conv)
	}
	if strings.Contains(ts.log.String(), "CROSSSLOT") {
		t.Fatalf("the server logged CROSSSLOT:\n%s", ts.log.String())
	}
}
