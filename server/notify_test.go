package server_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestNewChatNoticesOnlyForAvailableAgents: a new chat rings for the
// agents who are online, its title saying who and for which team; an
// agent who chose away (after their feed opened: the choice reaches the
// feed as it is made) gets the chat's change for the list, no notice; back
// online, the next new chat rings for them too.
func TestNewChatNoticesOnlyForAvailableAgents(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/bench")
	sam, kim := signIn(t, ts, addAgent(t, ts, "Sam", "sales")), signIn(t, ts, addAgent(t, ts, "Kim", "sales"))
	sam.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	kim.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	samFeed, kimFeed := sam.feed(), kim.feed()
	kim.ok("PUT", "/api/me/presence", map[string]any{"status": "away"})

	conv := toHandoff(t, dial(t, ts))
	n := samFeed.next("notify")
	if n["kind"] != "new_chat" || n["title"] != "New chat from ana at Acme — Sales" || n["conversation"].(map[string]any)["id"] != conv {
		t.Fatalf("Sam's notice: %v", n)
	}
	// Kim's feed: the chat's change, then (Sam takes it) its next one;
	// no notice in between or before.
	sam.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	for {
		f := kimFeed.nextFrame()
		if f["type"] == "notify" {
			t.Fatalf("Kim, away, got a notice: %v", f)
		}
		if c, _ := f["conversation"].(map[string]any); f["type"] == "conversation" && c["id"] == conv && c["assignee"] != nil && c["assignee"] != "" {
			break
		}
	}

	kim.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	conv2 := toHandoff(t, dial(t, ts))
	if n := kimFeed.next("notify"); n["kind"] != "new_chat" || n["conversation"].(map[string]any)["id"] != conv2 {
		t.Fatalf("Kim, online again: %v", n)
	}
}

// nextFrame returns the next frame of any type, queued ones first.
func (c *client) nextFrame() map[string]any {
	c.t.Helper()
	if len(c.queue) > 0 {
		f := c.queue[0]
		c.queue = c.queue[1:]
		return f
	}
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("connection closed while waiting for a frame")
		}
		return f
	case <-time.After(30 * time.Second): // only a guard against a hang
		c.t.Fatal("no frame within 30s")
	}
	return nil
}

// TestCRMChangesReachTheFeed: the records the offline path creates reach
// the feed of an agent who may see them as record frames, live (the CRM
// screens and the task count follow them without a reload), and so does
// a task marked done.
func TestCRMChangesReachTheFeed(t *testing.T) {
	ts := startServer(t, redistest.New(t), "../playbooks/sales")
	sam := signIn(t, ts, addAgent(t, ts, "Sam", "sales"))
	feed := sam.feed()
	salesOffline(t, ts, "ana@globex.com", "m")
	seen := map[string]string{} // kind -> id
	for seen["lead"] == "" || seen["task"] == "" {
		for _, x := range feed.next("record")["records"].([]any) {
			r := x.(map[string]any)
			seen[r["kind"].(string)] = r["id"].(string)
		}
	}
	sam.ok("POST", "/api/tasks/"+seen["task"]+"/done", map[string]any{"done": true})
	for done := false; !done; {
		for _, x := range feed.next("record")["records"].([]any) {
			if r := x.(map[string]any); r["id"] == seen["task"] {
				if r["done_at"] == nil {
					t.Fatalf("the task after done: %v", r)
				}
				done = true
			}
		}
	}
}
