package handoff_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestInboxOnRedisCluster runs every inbox step on a real 3-master Redis
// Cluster (PLAYBOOK_REDIS_CLUSTER): agents are created (and a duplicate
// email refused without side effects), a chat is queued, listed, taken,
// snoozed, woken, given to another agent, put back, missed, requeued and
// resolved, and after each step it is in exactly the lists it should be.
// Before issue 12 every multi-list step failed with CROSSSLOT.
func TestInboxOnRedisCluster(t *testing.T) {
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).UnixMilli())
	s := handoff.NewStore(cl.Client, handoff.Options{Prefix: cl.Prefix, Now: c.now, PasswordCost: bcrypt.MinCost})

	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	kim := addAgent(t, s, "kim", handoff.RoleAgent, "sales", "support")
	if _, err := s.AddAgent(ctx, handoff.NewAgent{Email: "SAM@example.com", Name: "Sam 2", Password: "correct horse"}); !errors.Is(err, handoff.ErrExists) {
		t.Fatalf("a second agent with sam's email: %v, want ErrExists", err)
	}
	if _, err := s.Login(ctx, "sam@example.com", "correct horse", "127.0.0.1"); err != nil {
		t.Fatalf("sam signs in: %v", err)
	}
	// An email key left by a creation cut short (before this fix, on a
	// cluster, the email was written and the record failed with CROSSSLOT)
	// does not block a new try.
	if err := cl.Client.Set(ctx, cl.Prefix+"agent-email:lee@example.com", "half-written", 0).Err(); err != nil {
		t.Fatal(err)
	}
	lee := addAgent(t, s, "lee", handoff.RoleAgent, "support")
	if got, err := s.AgentByEmail(ctx, "lee@example.com"); err != nil || got.ID != lee.ID {
		t.Fatalf("lee by email = %v, %v; want %s", got, err, lee.ID)
	}
	if all, err := s.Agents(ctx); err != nil || len(all) != 3 {
		t.Fatalf("agents = %v, %v; want sam, kim and lee", all, err)
	}

	// in asserts the folders (as sam and kim see them) that hold id.
	in := func(step, id string, want map[string]bool) {
		t.Helper()
		for _, f := range []struct {
			who    *handoff.Agent
			folder string
		}{{sam, handoff.FolderUnassigned}, {sam, handoff.FolderOpen}, {sam, handoff.FolderMine}, {kim, handoff.FolderMine},
			{sam, handoff.FolderSnoozed}, {sam, handoff.FolderMissed}, {sam, handoff.FolderClosed}} {
			list, err := s.List(ctx, f.who, f.folder, 50)
			if err != nil {
				t.Fatalf("%s: %s lists %s: %v", step, f.who.Name, f.folder, err)
			}
			has := false
			for _, c := range list {
				has = has || c.ID == id
			}
			key := f.who.Name + ":" + f.folder
			if has != want[key] {
				t.Errorf("%s: %s has the chat: %v, want %v", step, key, has, want[key])
			}
		}
	}
	step := func(name string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	id := "c-cluster-1"
	_, err := s.Start(ctx, handoff.Conversation{ID: id, Playbook: "p", Visitor: handoff.Visitor{Email: "ana@acme.io"}})
	step("start", err)
	conv, cfg, err := s.HandOff(ctx, id, handoff.Handoff{Team: "sales", Priority: "high", Card: "sales"})
	step("handoff", err)
	if conv.Status != handoff.StatusOpen || conv.QueuePosition != 1 || cfg.Routing == "" {
		t.Fatalf("after the handoff: %+v, %+v", conv, cfg)
	}
	in("handoff", id, map[string]bool{"sam:unassigned": true, "sam:open": true})
	_, _, err = s.Assign(ctx, id, sam, true)
	step("take", err)
	in("take", id, map[string]bool{"sam:open": true, "sam:mine": true})
	_, err = s.Snooze(ctx, id, c.now().Add(time.Hour), false)
	step("snooze", err)
	in("snooze", id, map[string]bool{"sam:snoozed": true})
	_, woke, err := s.Unsnooze(ctx, id)
	step("unsnooze", err)
	if !woke {
		t.Fatal("unsnooze did not wake the chat")
	}
	in("unsnooze", id, map[string]bool{"sam:open": true, "sam:mine": true})
	_, _, err = s.Assign(ctx, id, kim, false)
	step("reassign", err)
	in("reassign", id, map[string]bool{"sam:open": true, "kim:mine": true})
	_, _, err = s.Unassign(ctx, id)
	step("unassign", err)
	in("unassign", id, map[string]bool{"sam:unassigned": true, "sam:open": true})
	_, _, err = s.Miss(ctx, id)
	step("miss", err)
	in("miss", id, map[string]bool{"sam:missed": true})
	_, err = s.Queue(ctx, id, "sales", "high", "sales")
	step("requeue", err)
	_, _, err = s.Transfer(ctx, id, "support")
	step("transfer", err)
	in("transfer", id, map[string]bool{})
	if list, err := s.List(ctx, kim, handoff.FolderUnassigned, 50); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("support's unassigned after the transfer = %v, %v", list, err)
	}
	_, _, err = s.Assign(ctx, id, kim, true)
	step("support takes", err)
	_, _, err = s.Resolve(ctx, id)
	step("resolve", err)
	if list, err := s.List(ctx, kim, handoff.FolderClosed, 50); err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("closed after resolve = %v, %v", list, err)
	}
	if list, err := s.List(ctx, kim, handoff.FolderMine, 50); err != nil || len(list) != 0 {
		t.Fatalf("kim's chats after resolve = %v, %v", list, err)
	}
	_, err = s.ToBot(ctx, "c-cluster-2", "welcome")
	if !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("to bot of an unknown chat: %v, want ErrNotFound", err)
	}
}
