package handoff_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
)

type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time          { return time.UnixMilli(c.t.Load()) }
func (c *clock) advance(d time.Duration) { c.t.Add(d.Milliseconds()) }

func newStore(t *testing.T) (*handoff.Store, *clock) {
	rds := redistest.New(t)
	c := &clock{}
	c.t.Store(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).UnixMilli())
	return handoff.NewStore(rds.Client, handoff.Options{Prefix: rds.Prefix, Now: c.now, PresenceTimeout: 30 * time.Second, PasswordCost: bcrypt.MinCost}), c
}

func addAgent(t *testing.T, s *handoff.Store, name string, role handoff.Role, teams ...string) *handoff.Agent {
	t.Helper()
	a, err := s.AddAgent(context.Background(), handoff.NewAgent{Email: name + "@example.com", Name: name, Teams: teams, Role: role, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func queued(t *testing.T, s *handoff.Store, id, team string) *handoff.Conversation {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Start(ctx, handoff.Conversation{ID: id, Playbook: "p", Visitor: handoff.Visitor{Email: "ana@acme.io"}}); err != nil {
		t.Fatal(err)
	}
	c, err := s.Queue(ctx, id, team, "high", "sales")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClaimRace has two agents take the same chat at the same instant,
// 1,000 times: exactly one wins each time, and the loser is told.
func TestClaimRace(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	kim := addAgent(t, s, "kim", handoff.RoleAgent, "sales")
	wins := map[string]int{}
	for i := range 1000 {
		id := fmt.Sprint("race", i)
		queued(t, s, id, "sales")
		var wg sync.WaitGroup
		results := make([]error, 2)
		start := make(chan struct{})
		for j, a := range []*handoff.Agent{sam, kim} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, results[j] = s.Assign(ctx, id, a, true)
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for j, err := range results {
			switch {
			case err == nil:
				ok++
				wins[[]string{"sam", "kim"}[j]]++
			case errors.Is(err, handoff.ErrTaken):
			default:
				t.Fatalf("trial %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("trial %d: %d winners, want exactly 1", i, ok)
		}
		c, _ := s.Conversation(ctx, id)
		if c.Assignee != sam.ID && c.Assignee != kim.ID {
			t.Fatalf("trial %d: assignee %q", i, c.Assignee)
		}
	}
	t.Logf("winners over 1,000 trials: %v", wins)
	mine, _ := s.List(ctx, sam, handoff.FolderMine, 2000)
	theirs, _ := s.List(ctx, kim, handoff.FolderMine, 2000)
	if len(mine)+len(theirs) != 1000 || len(mine) != wins["sam"] {
		t.Fatalf("Mine folders hold %d + %d, want %d + %d", len(mine), len(theirs), wins["sam"], wins["kim"])
	}
	if q, _ := s.List(ctx, sam, handoff.FolderUnassigned, 10); len(q) != 0 {
		t.Fatalf("%d chats still unassigned", len(q))
	}
}

func TestPresenceExpiresWithoutHeartbeats(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales", "support")
	count := func() map[string]int {
		n, err := s.OnlineCount(ctx, []string{"sales", "support", "billing"})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n["sales"] != 0 {
		t.Fatalf("online before sign-in: %v", n)
	}
	if err := s.SetPresence(ctx, sam, handoff.Online); err != nil {
		t.Fatal(err)
	}
	if n := count(); n["sales"] != 1 || n["support"] != 1 || n["billing"] != 0 {
		t.Fatalf("online = %v", n)
	}
	clk.advance(20 * time.Second)
	s.Heartbeat(ctx, sam)
	clk.advance(20 * time.Second)
	if n := count(); n["sales"] != 1 {
		t.Fatalf("a heartbeat 20s ago should keep sam online: %v", n)
	}
	clk.advance(11 * time.Second) // 31s since the last heartbeat
	if n := count(); n["sales"] != 0 {
		t.Fatalf("sam still online 31s after the last heartbeat: %v", n)
	}
	if p, _ := s.PresenceOf(ctx, sam); p != handoff.Offline {
		t.Fatalf("presence of a silent agent = %s", p)
	}
	s.SetPresence(ctx, sam, handoff.Away)
	s.Heartbeat(ctx, sam)
	if n := count(); n["sales"] != 0 {
		t.Fatalf("an away agent counts as online: %v", n)
	}
}

func TestVisibilityAndClosedRules(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	sue := addAgent(t, s, "sue", handoff.RoleAgent, "support")
	boss := addAgent(t, s, "boss", handoff.RoleAdmin)
	c := queued(t, s, "c1", "sales")
	if !c.VisibleTo(sam) || c.VisibleTo(sue) || !c.VisibleTo(boss) {
		t.Fatal("visibility: sales sees, support does not, admin does")
	}
	if _, _, err := s.Assign(ctx, "c1", sue, true); !errors.Is(err, handoff.ErrForbidden) {
		t.Fatalf("support agent took a sales chat: %v", err)
	}
	if l, _ := s.List(ctx, sue, handoff.FolderUnassigned, 10); len(l) != 0 {
		t.Fatalf("support sees sales' queue: %v", l)
	}
	if l, _ := s.List(ctx, boss, handoff.FolderUnassigned, 10); len(l) != 1 {
		t.Fatalf("admin sees %d queued chats, want 1", len(l))
	}
	s.Assign(ctx, "c1", sam, true)
	if _, _, err := s.Resolve(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"assign":   func() error { _, _, err := s.Assign(ctx, "c1", sam, false); return err }(),
		"unassign": func() error { _, _, err := s.Unassign(ctx, "c1"); return err }(),
		"snooze":   func() error { _, err := s.Snooze(ctx, "c1", time.Now(), false); return err }(),
		"tobot":    func() error { _, err := s.ToBot(ctx, "c1", "x"); return err }(),
	} {
		if !errors.Is(err, handoff.ErrClosed) {
			t.Errorf("%s on a resolved chat: %v, want ErrClosed", name, err)
		}
	}
	if _, err := s.Rate(ctx, "c1", 5, "great"); err != nil {
		t.Fatalf("rating a resolved chat: %v", err)
	}
	if l, _ := s.List(ctx, sam, handoff.FolderClosed, 10); len(l) != 1 || l[0].CSAT.Score != 5 {
		t.Fatalf("closed folder = %v", l)
	}
	// The visitor's next conversation links to this one.
	next, _ := s.Start(ctx, handoff.Conversation{ID: "c2", Playbook: "p", Visitor: handoff.Visitor{Email: "ANA@acme.io"}})
	if len(next.Previous) != 1 || next.Previous[0] != "c1" {
		t.Fatalf("previous = %v", next.Previous)
	}
}

func TestSnoozeAndUnsnoozeOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	queued(t, s, "c1", "sales")
	s.Assign(ctx, "c1", sam, true)
	if _, err := s.Snooze(ctx, "c1", time.Now().Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(ctx, sam, handoff.FolderMine, 10); len(l) != 0 {
		t.Fatal("a snoozed chat stays in Mine")
	}
	if l, _ := s.List(ctx, sam, handoff.FolderSnoozed, 10); len(l) != 1 {
		t.Fatal("not in Snoozed")
	}
	_, changed, err := s.Unsnooze(ctx, "c1")
	if err != nil || !changed {
		t.Fatalf("unsnooze: %v %v", changed, err)
	}
	if _, changed, _ := s.Unsnooze(ctx, "c1"); changed {
		t.Fatal("a second unsnooze changed something")
	}
	if l, _ := s.List(ctx, sam, handoff.FolderMine, 10); len(l) != 1 {
		t.Fatal("back in Mine after unsnooze")
	}
}

func TestRouting(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a := addAgent(t, s, "amy", handoff.RoleAgent, "sales")
	b := addAgent(t, s, "bob", handoff.RoleAgent, "sales")
	if got, _ := s.PickAgent(ctx, "sales"); got != nil {
		t.Fatal("manual routing picked an agent")
	}
	s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.RoundRobin, Capacity: 2})
	if got, _ := s.PickAgent(ctx, "sales"); got != nil {
		t.Fatal("picked an offline agent")
	}
	s.SetPresence(ctx, a, handoff.Online)
	s.SetPresence(ctx, b, handoff.Online)
	counts := map[string]int{}
	for i := range 4 {
		ag, err := s.PickAgent(ctx, "sales")
		if err != nil || ag == nil {
			t.Fatalf("pick %d: %v %v", i, ag, err)
		}
		id := fmt.Sprint("rr", i)
		queued(t, s, id, "sales")
		s.Assign(ctx, id, ag, false)
		counts[ag.Name]++
	}
	if counts["amy"] != 2 || counts["bob"] != 2 {
		t.Fatalf("round robin = %v, want 2 each", counts)
	}
	if ag, _ := s.PickAgent(ctx, "sales"); ag != nil {
		t.Fatalf("everyone is at capacity but %s was picked", ag.Name)
	}
	s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.LeastBusy})
	s.Resolve(ctx, "rr0")
	s.Resolve(ctx, "rr2")
	if ag, _ := s.PickAgent(ctx, "sales"); ag == nil || counts[ag.Name] != 2 {
		t.Fatal("least busy picked nobody")
	}
}

func TestLoginAndTokens(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	if _, err := s.AddAgent(ctx, handoff.NewAgent{Email: "SAM@example.com", Name: "Sam 2", Password: "12345678"}); !errors.Is(err, handoff.ErrExists) {
		t.Fatalf("duplicate email: %v", err)
	}
	if _, err := s.AddAgent(ctx, handoff.NewAgent{Email: "x@example.com", Name: "X", Password: "short"}); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("short password: %v", err)
	}
	sess, err := s.Login(ctx, "Sam@Example.com", "correct horse", "127.0.0.1")
	if err != nil || sess.Agent.ID != sam.ID || sess.CSRF == "" {
		t.Fatalf("login: %+v %v", sess, err)
	}
	got, err := s.SessionByToken(ctx, sess.Token)
	if err != nil || got.Agent.ID != sam.ID || got.CSRF != sess.CSRF {
		t.Fatalf("session lookup: %+v %v", got, err)
	}
	s.Logout(ctx, sess.Token)
	if _, err := s.SessionByToken(ctx, sess.Token); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("session after logout: %v", err)
	}
	for range 5 {
		if _, err := s.Login(ctx, "sam@example.com", "wrong", "10.0.0.1"); !errors.Is(err, handoff.ErrBadPassword) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := s.Login(ctx, "sam@example.com", "correct horse", "10.0.0.1"); !errors.Is(err, handoff.ErrTooMany) {
		t.Fatalf("6th attempt in a minute: %v, want ErrTooMany", err)
	}
	tok, err := s.NewAPIToken(ctx, sam.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := s.AgentByAPIToken(ctx, tok); err != nil || a.ID != sam.ID {
		t.Fatalf("api token: %v %v", a, err)
	}
	if _, err := s.AgentByAPIToken(ctx, tok+"x"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("forged api token: %v", err)
	}
}

// TestHandOffMergesWhatTheBotLearnt: the handoff fills in the visitor's
// details the bot collected without losing those the widget gave, records
// the bot's last message, moves the chat between teams' lists, and returns
// the team's routing.
func TestHandOffMergesWhatTheBotLearnt(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if _, err := s.Start(ctx, handoff.Conversation{ID: "h1", Playbook: "p", Visitor: handoff.Visitor{ID: "v1", Page: "/pricing?plan=team"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.LeastBusy, Capacity: 3}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 5, 10, 0, 1, 0, time.UTC)
	c, cfg, err := s.HandOff(ctx, "h1", handoff.Handoff{Team: "sales", Priority: "high", Card: "sales",
		Visitor: handoff.Visitor{Name: "Ana \"A\" Díaz", Email: "ana@acme.io"},
		Last:    &handoff.Last{From: "bot", Text: "Connecting you to sales…", At: at}})
	if err != nil {
		t.Fatal(err)
	}
	want := handoff.Visitor{ID: "v1", Name: "Ana \"A\" Díaz", Email: "ana@acme.io", Page: "/pricing?plan=team"}
	if c.Visitor != want || c.Status != handoff.StatusOpen || c.Team != "sales" || c.Card != "sales" || c.Priority != "high" {
		t.Fatalf("after the handoff: %+v", c)
	}
	if c.Last == nil || c.Last.Text != "Connecting you to sales…" || !c.Last.At.Equal(at) {
		t.Fatalf("last message %+v", c.Last)
	}
	if cfg != (handoff.TeamConfig{Routing: handoff.LeastBusy, Capacity: 3}) {
		t.Fatalf("routing %+v", cfg)
	}
	if again, err := s.Conversation(ctx, "h1"); err != nil || again.Visitor != want {
		t.Fatalf("stored visitor %+v (%v)", again, err)
	}
	if q, _ := s.Queued(ctx, "sales", 10); len(q) != 1 || q[0] != "h1" {
		t.Fatalf("sales queue %v", q)
	}
	// Transferred: it leaves sales's queue for support's; the visitor stays.
	c, _, err = s.HandOff(ctx, "h1", handoff.Handoff{Team: "support", Card: "sales"})
	if err != nil || c.Visitor != want || c.Team != "support" {
		t.Fatalf("transfer: %+v (%v)", c, err)
	}
	if q, _ := s.Queued(ctx, "sales", 10); len(q) != 0 {
		t.Fatalf("sales queue after the transfer %v", q)
	}
	if q, _ := s.Queued(ctx, "support", 10); len(q) != 1 {
		t.Fatalf("support queue after the transfer %v", q)
	}
	if _, _, err := s.HandOff(ctx, "nope", handoff.Handoff{Team: "sales"}); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown conversation: %v", err)
	}
	if _, _, err := s.Resolve(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.HandOff(ctx, "h1", handoff.Handoff{Team: "sales"}); !errors.Is(err, handoff.ErrClosed) {
		t.Fatalf("resolved conversation: %v", err)
	}
}

// TestMissedStaysVisible: a queued chat nobody took leaves the queue for
// the team's Missed folder (not for nowhere), names the agents who were
// online, is seen by its team only, and leaves Missed when resolved.
func TestMissedStaysVisible(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	kim := addAgent(t, s, "kim", handoff.RoleAgent, "sales")
	lou := addAgent(t, s, "lou", handoff.RoleAgent, "support")
	if err := s.SetPresence(ctx, sam, handoff.Online); err != nil {
		t.Fatal(err)
	}
	queued(t, s, "m1", "sales")
	c, online, err := s.Miss(ctx, "m1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != handoff.StatusMissed || c.Team != "sales" || c.Assignee != "" {
		t.Fatalf("after Miss: %+v", c)
	}
	if len(online) != 1 || online[0] != sam.ID {
		t.Errorf("online when missed: %v, want [%s] (sam; kim is offline)", online, sam.ID)
	}
	count := func(a *handoff.Agent, folder string) int {
		t.Helper()
		l, err := s.List(ctx, a, folder, 50)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	if n := count(kim, handoff.FolderUnassigned); n != 0 {
		t.Errorf("the missed chat is still in Unassigned (%d)", n)
	}
	if n := count(kim, handoff.FolderMissed); n != 1 {
		t.Errorf("kim sees %d chats in Missed, want 1", n)
	}
	if n := count(lou, handoff.FolderMissed); n != 0 {
		t.Errorf("support sees %d of sales' missed chats", n)
	}
	if _, err := s.Snooze(ctx, "m1", time.Now().Add(time.Hour), false); !errors.Is(err, handoff.ErrInvalid) {
		t.Errorf("snoozing a missed chat: %v, want ErrInvalid", err)
	}
	if _, _, err := s.Resolve(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if n := count(kim, handoff.FolderMissed); n != 0 {
		t.Errorf("a resolved chat is still in Missed (%d)", n)
	}
	if n := count(kim, handoff.FolderClosed); n != 1 {
		t.Errorf("the resolved chat is not in Closed (%d)", n)
	}
}

// TestQueuePosition: waiting chats have their place in the team's queue,
// first come first served; taking one moves those behind it up.
func TestQueuePosition(t *testing.T) {
	ctx := context.Background()
	s, clk := newStore(t)
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	for _, id := range []string{"q1", "q2", "q3"} {
		queued(t, s, id, "sales")
		clk.advance(time.Second)
	}
	queued(t, s, "other", "support")
	pos := func(id string) int {
		t.Helper()
		_, p, err := s.QueuePosition(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if a, b, c, o := pos("q1"), pos("q2"), pos("q3"), pos("other"); a != 1 || b != 2 || c != 3 || o != 1 {
		t.Fatalf("positions %d %d %d (support %d), want 1 2 3 (1)", a, b, c, o)
	}
	if _, _, err := s.Assign(ctx, "q1", sam, true); err != nil {
		t.Fatal(err)
	}
	if a, b, c := pos("q1"), pos("q2"), pos("q3"); a != 0 || b != 1 || c != 2 {
		t.Fatalf("after q1 was taken: %d %d %d, want 0 1 2", a, b, c)
	}
	if _, _, err := s.Miss(ctx, "q2"); err != nil {
		t.Fatal(err)
	}
	if b, c := pos("q2"), pos("q3"); b != 0 || c != 1 {
		t.Fatalf("after q2 was missed: %d %d, want 0 1", b, c)
	}
	if p := pos("nope"); p != 0 {
		t.Fatalf("an unknown conversation is at %d", p)
	}
}

// TestAwayBelongsToTheTeamUnqueued records the team of a handoff that found
// its team away: the conversation then belongs to that team (who may see
// it) but is in none of its folders; a team it has is kept; a conversation
// without an inbox record is reported.
func TestAwayBelongsToTheTeamUnqueued(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	s := handoff.NewStore(rds.Client, handoff.Options{Prefix: rds.Prefix, PasswordCost: bcrypt.MinCost})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	away := func(id, team string) error {
		t.Helper()
		pipe := rds.Client.Pipeline()
		res := s.Away(ctx, pipe, id, team)
		_, _ = pipe.Exec(ctx)
		return res()
	}
	if _, err := s.Start(ctx, handoff.Conversation{ID: "a1", Playbook: "p", Visitor: handoff.Visitor{Email: "ana@acme.io"}}); err != nil {
		t.Fatal(err)
	}
	if err := away("a1", "sales"); err != nil {
		t.Fatal(err)
	}
	c, err := s.Conversation(ctx, "a1")
	if err != nil {
		t.Fatal(err)
	}
	if c.Team != "sales" || c.Status != handoff.StatusBot || c.Assignee != "" || !c.VisibleTo(sam) {
		t.Fatalf("after Away: %+v", c)
	}
	for _, folder := range []string{handoff.FolderUnassigned, handoff.FolderOpen, handoff.FolderMine, handoff.FolderMissed, handoff.FolderClosed, handoff.FolderSnoozed} {
		l, err := s.List(ctx, sam, folder, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 0 {
			t.Errorf("the away chat is in %s: %+v", folder, l[0])
		}
	}
	// The first team stays: a later away (another team) changes nothing.
	if err := away("a1", "support"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Conversation(ctx, "a1"); c.Team != "sales" {
		t.Fatalf("team after a second away = %q, want sales", c.Team)
	}
	// A queued chat keeps its team too.
	queued(t, s, "q1", "support")
	if err := away("q1", "sales"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Conversation(ctx, "q1"); c.Team != "support" || c.Status != handoff.StatusOpen {
		t.Fatalf("queued chat after Away: %+v", c)
	}
	if err := away("nope", "sales"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("Away on no conversation: %v, want ErrNotFound", err)
	}
	if _, err := s.Conversation(ctx, "nope"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("Away made an inbox record: %v", err)
	}
}
