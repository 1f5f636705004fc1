package server_test

import (
	"context"
	"testing"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// A team's reopen policy (issue 14, item 2). Under never (LeadBooster,
// the default) a resolved chat is closed for good: no Reopen, and the
// visitor's next message starts a new conversation. Under reopen
// (Chatwoot) the visitor's message, or an agent's Reopen, opens the same
// chat again, with the agent who had it.
func TestReopenPolicy(t *testing.T) {
	for _, policy := range []handoff.ReopenPolicy{handoff.ReopenNever, handoff.ReopenAllowed} {
		t.Run(string(policy), func(t *testing.T) {
			ts := startServer(t, redistest.New(t), "../playbooks/bench")
			ctx := context.Background()
			in := ts.srv.App().Inbox()
			if err := in.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.Manual, Reopen: policy}); err != nil {
				t.Fatal(err)
			}
			sam := addAgent(t, ts, "Sam", "sales")
			agent := signIn(t, ts, sam)
			agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
			feed := agent.feed()
			v := dial(t, ts)
			conv := toHandoff(t, v)
			v.bot("Connecting you to sales...")
			agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
			v.entryOf("joined", "system")
			agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
			r := v.entryOf("resolved", "system")
			data, _ := r["data"].(map[string]any)
			if got := data["reopen"] == true; got != (policy == handoff.ReopenAllowed) {
				t.Fatalf("resolved entry %v: reopen offered = %v under %s", r, got, policy)
			}

			if policy == handoff.ReopenNever {
				if code, _ := agent.do("POST", "/api/conversations/"+conv+"/reopen", nil); code != 409 {
					t.Fatalf("reopening under never: %d, want 409", code)
				}
				v.send(map[string]any{"type": "message", "id": "v6", "text": "One more thing"})
				w := v.next("welcome")
				if w["conversation"] == conv {
					t.Fatal("the visitor's message reopened a chat closed for good")
				}
				if c, _ := in.Conversation(ctx, conv); c.Status != handoff.StatusResolved {
					t.Fatalf("the old chat is %s", c.Status)
				}
				return
			}

			// The visitor writes again: the same chat, back with Sam.
			v.send(map[string]any{"type": "message", "id": "v6", "text": "One more thing"})
			if e := v.entryOf("reopened", "system"); e["author"] != "The visitor" {
				t.Fatalf("reopened entry %v", e)
			}
			if e := v.entryOf("message", "visitor"); e["text"] != "One more thing" {
				t.Fatalf("visitor message %v", e)
			}
			// Sam's inbox gets the chat back with the visitor's message.
			for {
				f := feed.next("conversation")
				c, _ := f["conversation"].(map[string]any)
				last, _ := c["last"].(map[string]any)
				if c["id"] == conv && last["text"] == "One more thing" {
					if c["status"] != "open" || c["assignee"] != sam.ID {
						t.Fatalf("after the visitor wrote: %v", c)
					}
					break
				}
			}
			if c, _ := in.Conversation(ctx, conv); c.Status != handoff.StatusOpen || c.Assignee != sam.ID || c.ResolvedAt != nil {
				t.Fatalf("after the visitor wrote: %+v", c)
			}
			// Resolved again, then Sam clicks Reopen.
			agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
			v.entryOf("resolved", "system")
			agent.ok("POST", "/api/conversations/"+conv+"/reopen", nil)
			if e := v.entryOf("reopened", "system"); e["author"] != "Sam" {
				t.Fatalf("reopened entry %v", e)
			}
			if c, _ := in.Conversation(ctx, conv); c.Status != handoff.StatusOpen || c.Assignee != sam.ID {
				t.Fatalf("after Reopen: %+v", c)
			}
			if code, _ := agent.do("POST", "/api/conversations/"+conv+"/reopen", nil); code != 409 {
				t.Fatalf("reopening an open chat: %d, want 409", code)
			}
		})
	}
}

// TestReopenMissedChatIntoTheQueue: under reopen, a visitor writing to a
// chat nobody had (missed: they left a message instead; then an agent
// closed it) opens that same chat again in the team's queue, through the
// handoff card, rather than starting a new conversation; an agent then
// takes it with everything said so far. Under never it starts a new one.
func TestReopenMissedChatIntoTheQueue(t *testing.T) {
	for _, policy := range []handoff.ReopenPolicy{handoff.ReopenNever, handoff.ReopenAllowed} {
		t.Run(string(policy), func(t *testing.T) {
			ts := startServer(t, redistest.New(t), "../playbooks/bench")
			ctx := context.Background()
			in := ts.srv.App().Inbox()
			if err := in.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.Manual, Reopen: policy}); err != nil {
				t.Fatal(err)
			}
			sam := addAgent(t, ts, "Sam", "sales")
			agent := signIn(t, ts, sam)
			agent.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
			v := dial(t, ts)
			conv := toHandoff(t, v)
			v.bot("Connecting you to sales...")
			v.next("queue")
			v.send(map[string]any{"type": "leave_message", "id": "l1"})
			waitLong(t, "the chat missed", func() bool {
				c, err := in.Conversation(ctx, conv)
				return err == nil && c.Status == handoff.StatusMissed
			})
			agent.ok("POST", "/api/conversations/"+conv+"/resolve", nil)
			v.entryOf("resolved", "system")

			v.send(map[string]any{"type": "message", "id": "v6", "text": "Anyone there now?"})
			if policy == handoff.ReopenNever {
				if w := v.next("welcome"); w["conversation"] == conv {
					t.Fatal("the visitor's message reopened a chat closed for good")
				}
				return
			}
			if e := v.entryOf("reopened", "system"); e["author"] != "The visitor" {
				t.Fatalf("reopened entry %v", e)
			}
			v.bot("Connecting you to sales...")
			if e := v.entryOf("message", "visitor"); e["text"] != "Anyone there now?" {
				t.Fatalf("visitor message %v", e)
			}
			if q := v.next("queue"); q["position"] != float64(1) || q["team"] != "sales" {
				t.Fatalf("queue frame %v", q)
			}
			c, err := in.Conversation(ctx, conv)
			if err != nil || c.Status != handoff.StatusOpen || c.Assignee != "" || c.ResolvedAt != nil {
				t.Fatalf("after the visitor wrote: %+v, %v; want open in the queue", c, err)
			}
			agent.ok("POST", "/api/conversations/"+conv+"/assign", map[string]any{})
			if j := v.entryOf("joined", "system"); j["author"] != "Sam" {
				t.Fatalf("joined entry %v", j)
			}
			for _, f := range v.settle() {
				if f["type"] == "welcome" {
					t.Fatalf("a new conversation started: %v", f)
				}
			}
		})
	}
}
