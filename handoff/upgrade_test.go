package handoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestMoveLegacyTeamKeys: a store written with the key layout before
// issue 12 (a queued chat in team:sales:queue and :open, a routing in
// team-config:sales) is, after the move, what the inbox lists and routes
// by; a second run moves nothing.
func TestMoveLegacyTeamKeys(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	s := handoff.NewStore(rds.Client, handoff.Options{Prefix: rds.Prefix, PasswordCost: bcrypt.MinCost})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	if _, err := s.Start(ctx, handoff.Conversation{ID: "old-1", Playbook: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Queue(ctx, "old-1", "sales", "high", "sales"); err != nil {
		t.Fatal(err)
	}
	// Back to the old layout, as the previous version left it.
	p := rds.Prefix
	score := float64(time.Now().UnixMilli())
	rds.Client.Del(ctx, p+"{t:sales}:queue", p+"{t:sales}:open")
	rds.Client.ZAdd(ctx, p+"team:sales:queue", redis.Z{Score: score, Member: "old-1"})
	rds.Client.ZAdd(ctx, p+"team:sales:open", redis.Z{Score: score, Member: "old-1"})
	rds.Client.HSet(ctx, p+"team-config:sales", "routing", "round_robin", "capacity", 2)
	if list, _ := s.List(ctx, sam, handoff.FolderUnassigned, 10); len(list) != 0 {
		t.Fatalf("the new layout sees %d chats before the move", len(list))
	}

	n, err := s.MoveLegacyTeamKeys(ctx)
	if err != nil || n != 3 {
		t.Fatalf("moved %d keys, %v; want 3", n, err)
	}
	if list, err := s.List(ctx, sam, handoff.FolderUnassigned, 10); err != nil || len(list) != 1 || list[0].ID != "old-1" {
		t.Fatalf("unassigned after the move = %v, %v", list, err)
	}
	if cfg, err := s.TeamConfigOf(ctx, "sales"); err != nil || cfg.Routing != handoff.RoundRobin || cfg.Capacity != 2 {
		t.Fatalf("sales routing after the move = %+v, %v", cfg, err)
	}
	if n, _ := rds.Client.Exists(ctx, p+"team:sales:queue", p+"team:sales:open", p+"team-config:sales").Result(); n != 0 {
		t.Fatalf("%d old keys left", n)
	}
	if n, err := s.MoveLegacyTeamKeys(ctx); err != nil || n != 0 {
		t.Fatalf("a second run moved %d, %v", n, err)
	}
}
