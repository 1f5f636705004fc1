package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// InboxOpener returns two instances of an engine over the same fresh,
// empty data: two processes sharing a Redis, or two users of one embedded
// database. Both are closed when t ends.
type InboxOpener func(t *testing.T) (store.InboxEngine, store.InboxEngine)

// Clock is a test clock that moves only when told.
type Clock struct{ t atomic.Int64 }

// NewClock returns a clock at 2026-01-05 10:00 UTC.
func NewClock() *Clock {
	c := &Clock{}
	c.t.Store(time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC).UnixMilli())
	return c
}

// Now is the clock's time.
func (c *Clock) Now() time.Time { return time.UnixMilli(c.t.Load()).UTC() }

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) { c.t.Add(d.Milliseconds()) }

// inboxes opens an engine and returns two handoff.Stores on its two
// instances, sharing one clock.
func inboxes(t *testing.T, open InboxOpener, o handoff.Options) (*handoff.Store, *handoff.Store, *Clock) {
	t.Helper()
	a, b := open(t)
	clk := NewClock()
	if o.Now == nil {
		o.Now = clk.Now
	}
	o.PresenceTimeout = 30 * time.Second
	o.PasswordCost = bcrypt.MinCost
	return handoff.NewStore(a, o), handoff.NewStore(b, o), clk
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

func list(t *testing.T, s *handoff.Store, a *handoff.Agent, folder string) []*handoff.Conversation {
	t.Helper()
	l, err := s.List(context.Background(), a, folder, 2000)
	if err != nil {
		t.Fatalf("%s lists %s: %v", a.Name, folder, err)
	}
	return l
}

// Inbox runs the inbox's conformance tests: queue, claim (a 1,000-trial
// race between two instances), reassign, unassign, transfer, snooze,
// miss, resolve, rating, routing, queue positions, away, folders after
// every step, and the clean-up of chats whose session is gone.
func Inbox(t *testing.T, open InboxOpener) {
	t.Run("ClaimRace", func(t *testing.T) { testClaimRace(t, open) })
	t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, open) })
	t.Run("ClosedRules", func(t *testing.T) { testClosedRules(t, open) })
	t.Run("SnoozeOnce", func(t *testing.T) { testSnoozeOnce(t, open) })
	t.Run("Routing", func(t *testing.T) { testRouting(t, open) })
	t.Run("ReopenPolicy", func(t *testing.T) { testReopenPolicy(t, open) })
	t.Run("HandOffMerges", func(t *testing.T) { testHandOffMerges(t, open) })
	t.Run("Missed", func(t *testing.T) { testMissed(t, open) })
	t.Run("QueuePosition", func(t *testing.T) { testQueuePosition(t, open) })
	t.Run("QueuePositionLongQueue", func(t *testing.T) { testQueuePositionLongQueue(t, open) })
	t.Run("WaitEstimate", func(t *testing.T) { testWaitEstimate(t, open) })
	t.Run("Away", func(t *testing.T) { testAway(t, open) })
	t.Run("Gone", func(t *testing.T) { testGone(t, open) })
	t.Run("RateThenAmend", func(t *testing.T) { testRateThenAmend(t, open) })
}

// testClaimRace has two agents, on two instances, take the same chat at
// the same instant, 1,000 times: exactly one wins each time, the loser is
// told, and the folders hold each chat once.
func testClaimRace(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s1, s2, _ := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s1, "sam", handoff.RoleAgent, "sales")
	kim := addAgent(t, s1, "kim", handoff.RoleAgent, "sales")
	trials := 1000
	if testing.Short() {
		trials = 200 // the fast tier; the full run does 1,000
	}
	wins := map[string]int{}
	for i := range trials {
		id := fmt.Sprint("race", i)
		queued(t, s1, id, "sales")
		var wg sync.WaitGroup
		results := make([]error, 2)
		start := make(chan struct{})
		for j, who := range []struct {
			s *handoff.Store
			a *handoff.Agent
		}{{s1, sam}, {s2, kim}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, _, results[j] = who.s.Assign(ctx, id, who.a, true)
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
		c, err := s2.Conversation(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Assignee != sam.ID && c.Assignee != kim.ID {
			t.Fatalf("trial %d: assignee %q", i, c.Assignee)
		}
	}
	t.Logf("winners over %d trials: %v", trials, wins)
	mine, theirs := list(t, s1, sam, handoff.FolderMine), list(t, s2, kim, handoff.FolderMine)
	if len(mine)+len(theirs) != trials || len(mine) != wins["sam"] {
		t.Fatalf("Mine folders hold %d + %d, want %d + %d", len(mine), len(theirs), wins["sam"], wins["kim"])
	}
	if q := list(t, s1, sam, handoff.FolderUnassigned); len(q) != 0 {
		t.Fatalf("%d chats still unassigned", len(q))
	}
	if n, err := s2.OpenCount(ctx, []string{sam.ID, kim.ID}); err != nil || n[sam.ID] != wins["sam"] || n[kim.ID] != wins["kim"] {
		t.Fatalf("open counts %v (%v), want %v", n, err, wins)
	}
}

// testLifecycle takes one chat through every step and checks, after each,
// that it is in exactly the folders it should be (as sam and kim see
// them): queued, taken, snoozed, woken, given to another agent, put back,
// missed, requeued, transferred, taken and resolved.
func testLifecycle(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	kim := addAgent(t, s, "kim", handoff.RoleAgent, "sales", "support")
	in := func(step, id string, want map[string]bool) {
		t.Helper()
		for _, f := range []struct {
			who    *handoff.Agent
			folder string
		}{{sam, handoff.FolderUnassigned}, {sam, handoff.FolderOpen}, {sam, handoff.FolderMine}, {kim, handoff.FolderMine},
			{sam, handoff.FolderSnoozed}, {sam, handoff.FolderMissed}, {sam, handoff.FolderClosed}} {
			has := false
			for _, c := range list(t, s2, f.who, f.folder) {
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
	id := "c-life-1"
	_, err := s.Start(ctx, handoff.Conversation{ID: id, Playbook: "p", Visitor: handoff.Visitor{Email: "ana@acme.io"}})
	step("start", err)
	in("start", id, map[string]bool{})
	queuedAt := clk.Now()
	conv, cfg, err := s.HandOff(ctx, id, handoff.Handoff{Team: "sales", Priority: "high", Card: "sales"})
	step("handoff", err)
	if conv.Status != handoff.StatusOpen || conv.QueuePosition != 1 || cfg.Routing != handoff.Manual {
		t.Fatalf("after the handoff: %+v, %+v", conv, cfg)
	}
	if conv.QueuedAt == nil || !conv.QueuedAt.Equal(queuedAt) {
		t.Fatalf("after the handoff: queued at %v, want %v", conv.QueuedAt, queuedAt)
	}
	in("handoff", id, map[string]bool{"sam:unassigned": true, "sam:open": true})
	clk.Advance(time.Second)
	c, prev, err := s.Assign(ctx, id, sam, true)
	step("take", err)
	if c.Assignee != sam.ID || c.AssigneeName != "sam" || prev != "" || c.Status != handoff.StatusOpen {
		t.Fatalf("after the take: %+v (before: %q)", c, prev)
	}
	// The wait in the queue is the take's time less QueuedAt.
	if c.QueuedAt == nil || !c.QueuedAt.Equal(queuedAt) {
		t.Fatalf("after the take: queued at %v, want %v (kept)", c.QueuedAt, queuedAt)
	}
	if got, err := s2.Conversation(ctx, id); err != nil || got.QueuedAt == nil || !got.QueuedAt.Equal(queuedAt) {
		t.Fatalf("read back: %+v, %v; want queued at %v", got, err, queuedAt)
	}
	in("take", id, map[string]bool{"sam:open": true, "sam:mine": true})
	if _, _, err := s2.Assign(ctx, id, kim, true); !errors.Is(err, handoff.ErrTaken) {
		t.Fatalf("kim takes sam's chat: %v, want ErrTaken", err)
	}
	until := clk.Now().Add(time.Hour)
	c, err = s.Snooze(ctx, id, until, false)
	step("snooze", err)
	if c.Status != handoff.StatusSnoozed || c.SnoozedUntil == nil || !c.SnoozedUntil.Equal(until) || c.Assignee != sam.ID {
		t.Fatalf("after the snooze: %+v", c)
	}
	in("snooze", id, map[string]bool{"sam:snoozed": true})
	c, woke, err := s.Unsnooze(ctx, id)
	step("unsnooze", err)
	if !woke || c.Status != handoff.StatusOpen || c.SnoozedUntil != nil {
		t.Fatalf("unsnooze: woke %v, %+v", woke, c)
	}
	in("unsnooze", id, map[string]bool{"sam:open": true, "sam:mine": true})
	c, prev, err = s.Assign(ctx, id, kim, false)
	step("reassign", err)
	if c.Assignee != kim.ID || prev != sam.ID {
		t.Fatalf("reassign: %+v, before %q", c, prev)
	}
	in("reassign", id, map[string]bool{"sam:open": true, "kim:mine": true})
	c, prev, err = s.Unassign(ctx, id)
	step("unassign", err)
	if c.Assignee != "" || prev != kim.ID {
		t.Fatalf("unassign: %+v, before %q", c, prev)
	}
	in("unassign", id, map[string]bool{"sam:unassigned": true, "sam:open": true})
	_, _, err = s.Miss(ctx, id)
	step("miss", err)
	in("miss", id, map[string]bool{"sam:missed": true})
	_, err = s.Queue(ctx, id, "sales", "high", "sales")
	step("requeue", err)
	in("requeue", id, map[string]bool{"sam:unassigned": true, "sam:open": true})
	if _, _, err := s.Transfer(ctx, id, "nowhere"); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("transfer to no team: %v, want ErrInvalid", err)
	}
	_, _, err = s.Transfer(ctx, id, "support")
	step("transfer", err)
	in("transfer", id, map[string]bool{})
	if l := list(t, s, kim, handoff.FolderUnassigned); len(l) != 1 || l[0].ID != id {
		t.Fatalf("support's unassigned after the transfer = %v", l)
	}
	if _, _, err := s.Assign(ctx, id, sam, true); !errors.Is(err, handoff.ErrForbidden) {
		t.Fatalf("sam (sales) takes a support chat: %v, want ErrForbidden", err)
	}
	_, _, err = s.Assign(ctx, id, kim, true)
	step("support takes", err)
	c, prev, err = s.Resolve(ctx, id)
	step("resolve", err)
	if c.Status != handoff.StatusResolved || c.ResolvedAt == nil || prev != kim.ID {
		t.Fatalf("resolve: %+v, before %q", c, prev)
	}
	if l := list(t, s, kim, handoff.FolderClosed); len(l) != 1 || l[0].ID != id {
		t.Fatalf("closed after resolve = %v", l)
	}
	if l := list(t, s, kim, handoff.FolderMine); len(l) != 0 {
		t.Fatalf("kim's chats after resolve = %v", l)
	}
	if _, err := s.ToBot(ctx, "c-life-2", "welcome"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("to bot of an unknown chat: %v, want ErrNotFound", err)
	}
	// Back to the bot: out of every folder.
	queued(t, s, "c-life-3", "sales")
	c, err = s.ToBot(ctx, "c-life-3", "welcome")
	step("to bot", err)
	if c.Status != handoff.StatusBot || c.Card != "welcome" {
		t.Fatalf("to bot: %+v", c)
	}
	in("to bot", "c-life-3", map[string]bool{})
	// Labels and the visitor.
	c, err = s.SetLabels(ctx, "c-life-3", []string{"VIP", " lead "}, nil)
	step("labels", err)
	if _, err := s.SetLabels(ctx, "c-life-3", nil, []string{"vip"}); err != nil {
		t.Fatal(err)
	}
	step("visitor", s.UpdateVisitor(ctx, "c-life-3", handoff.Visitor{Name: "Ana"}))
	if c, err := s2.Conversation(ctx, "c-life-3"); err != nil || len(c.Labels) != 1 || c.Labels[0] != "lead" || c.Visitor.Name != "Ana" || c.Visitor.Email != "ana@acme.io" {
		t.Fatalf("labels and visitor: %+v, %v", c, err)
	}
	// Touch moves a chat up its folders.
	queued(t, s, "c-life-4", "sales")
	clk.Advance(time.Second)
	queued(t, s, "c-life-5", "sales")
	c4, _ := s.Conversation(ctx, "c-life-4")
	clk.Advance(time.Second)
	step("touch", s.Touch(ctx, c4, handoff.Last{From: "visitor", Text: "hello?", At: clk.Now()}))
	if l := list(t, s2, sam, handoff.FolderOpen); len(l) < 2 || l[0].ID != "c-life-4" || l[0].Last == nil || l[0].Last.Text != "hello?" {
		t.Fatalf("open after a touch: %v", ids(l))
	}
}

func ids(l []*handoff.Conversation) []string {
	out := make([]string, len(l))
	for i, c := range l {
		out[i] = c.ID
	}
	return out
}

func testClosedRules(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, _, _ := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	sue := addAgent(t, s, "sue", handoff.RoleAgent, "support")
	boss := addAgent(t, s, "boss", handoff.RoleAdmin)
	queued(t, s, "c1", "sales")
	if _, _, err := s.Assign(ctx, "c1", sue, true); !errors.Is(err, handoff.ErrForbidden) {
		t.Fatalf("support agent took a sales chat: %v", err)
	}
	if l := list(t, s, sue, handoff.FolderUnassigned); len(l) != 0 {
		t.Fatalf("support sees sales' queue: %v", ids(l))
	}
	if l := list(t, s, boss, handoff.FolderUnassigned); len(l) != 1 {
		t.Fatalf("admin sees %d queued chats, want 1", len(l))
	}
	if _, _, err := s.Assign(ctx, "c1", sam, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Resolve(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"assign":   func() error { _, _, err := s.Assign(ctx, "c1", sam, false); return err }(),
		"unassign": func() error { _, _, err := s.Unassign(ctx, "c1"); return err }(),
		"snooze":   func() error { _, err := s.Snooze(ctx, "c1", time.Now(), false); return err }(),
		"tobot":    func() error { _, err := s.ToBot(ctx, "c1", "x"); return err }(),
		"resolve":  func() error { _, _, err := s.Resolve(ctx, "c1"); return err }(),
		"miss":     func() error { _, _, err := s.Miss(ctx, "c1"); return err }(),
		"handoff":  func() error { _, _, err := s.HandOff(ctx, "c1", handoff.Handoff{Team: "sales"}); return err }(),
	} {
		if !errors.Is(err, handoff.ErrClosed) {
			t.Errorf("%s on a resolved chat: %v, want ErrClosed", name, err)
		}
	}
	if l := list(t, s, sam, handoff.FolderClosed); len(l) != 1 {
		t.Fatalf("closed folder = %v", ids(l))
	}
	// The refused handoff left the resolved chat out of the team's lists.
	for _, f := range []string{handoff.FolderUnassigned, handoff.FolderOpen} {
		if l := list(t, s, boss, f); len(l) != 0 {
			t.Fatalf("a handoff refused on a resolved chat left it in %s: %v", f, ids(l))
		}
	}
	// The visitor's next conversation links to this one (emails match
	// whatever their case).
	next, err := s.Start(ctx, handoff.Conversation{ID: "c2", Playbook: "p", Visitor: handoff.Visitor{Email: "ANA@acme.io"}})
	if err != nil || len(next.Previous) != 1 || next.Previous[0] != "c1" {
		t.Fatalf("previous = %v (%v)", next, err)
	}
	if again, _ := s.Conversation(ctx, "c2"); len(again.Previous) != 1 {
		t.Fatalf("stored previous = %v", again.Previous)
	}
	prev, err := s.Previous(ctx, next)
	if err != nil || len(prev) != 1 || prev[0].ID != "c1" || prev[0].Status != handoff.StatusResolved {
		t.Fatalf("Previous = %v, %v", prev, err)
	}
	// A visitor known by id only.
	if _, err := s.Start(ctx, handoff.Conversation{ID: "v1", Playbook: "p", Visitor: handoff.Visitor{ID: "vis-9"}}); err != nil {
		t.Fatal(err)
	}
	n, err := s.Start(ctx, handoff.Conversation{ID: "v2", Playbook: "p", Visitor: handoff.Visitor{ID: "vis-9"}})
	if err != nil || len(n.Previous) != 1 || n.Previous[0] != "v1" {
		t.Fatalf("previous by visitor id = %+v, %v", n, err)
	}
}

// testRateThenAmend: the widget sends the rating on the first star click
// and the comment after it (issue 14), so the same chat's rating may be
// replaced for handoff.Options.AmendRating after the first one; later
// ratings are refused (ErrRated) and change nothing.
func testRateThenAmend(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s1, s2, clk := inboxes(t, open, handoff.Options{AmendRating: 10 * time.Minute})
	sam := addAgent(t, s1, "sam", handoff.RoleAgent, "sales")
	queued(t, s1, "r1", "sales")
	if _, err := s1.Rate(ctx, "r1", 5, "great"); !errors.Is(err, handoff.ErrNotResolved) {
		t.Fatalf("rating an open chat: %v, want ErrNotResolved", err)
	}
	if _, err := s1.Rate(ctx, "nope", 5, ""); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("rating no chat: %v, want ErrNotFound", err)
	}
	if _, err := s1.Rate(ctx, "r1", 6, ""); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("a rating of 6: %v, want ErrInvalid", err)
	}
	s1.Assign(ctx, "r1", sam, true)
	if _, _, err := s1.Resolve(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	// Two tabs rate at once, on two instances: both are taken, one of
	// them stays whole (no mix of the two).
	for i := range 30 {
		id := fmt.Sprint("rr", i)
		queued(t, s1, id, "sales")
		if _, _, err := s1.Resolve(ctx, id); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, s := range []*handoff.Store{s1, s2} {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[j] = s.Rate(ctx, id, j+1, fmt.Sprint("tab ", j+1)) }()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("trial %d: %v, %v", i, errs[0], errs[1])
		}
		c, _ := s1.Conversation(ctx, id)
		if c.CSAT == nil || (c.CSAT.Score != 1 && c.CSAT.Score != 2) || c.CSAT.Comment != fmt.Sprint("tab ", c.CSAT.Score) {
			t.Fatalf("trial %d: stored %+v", i, c.CSAT)
		}
	}
	// The star click, then the comment typed after it, on another instance.
	first := clk.Now()
	c, err := s1.Rate(ctx, "r1", 4, "")
	if err != nil || c.CSAT == nil || c.CSAT.Score != 4 || c.CSAT.Comment != "" || !c.CSAT.First.Equal(first) {
		t.Fatalf("rate: %+v, %v", c, err)
	}
	clk.Advance(9 * time.Minute)
	c, err = s2.Rate(ctx, "r1", 3, "slow at first")
	if err != nil || c.CSAT == nil || c.CSAT.Score != 3 || c.CSAT.Comment != "slow at first" ||
		!c.CSAT.First.Equal(first) || !c.CSAT.At.Equal(clk.Now()) {
		t.Fatalf("amended: %+v, %v", c.CSAT, err)
	}
	if got, _ := s1.Conversation(ctx, "r1"); got.CSAT == nil || *got.CSAT != *c.CSAT {
		t.Fatalf("stored %+v, want %+v", got.CSAT, c.CSAT)
	}
	// Past the window from the first rating: refused, nothing changes.
	clk.Advance(2 * time.Minute)
	if _, err := s2.Rate(ctx, "r1", 1, "changed my mind"); !errors.Is(err, handoff.ErrRated) {
		t.Fatalf("a rating 11 minutes after the first: %v, want ErrRated", err)
	}
	if got, _ := s1.Conversation(ctx, "r1"); got.CSAT == nil || *got.CSAT != *c.CSAT {
		t.Fatalf("a refused rating changed it: %+v, want %+v", got.CSAT, c.CSAT)
	}
}

func testSnoozeOnce(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	queued(t, s, "c1", "sales")
	s.Assign(ctx, "c1", sam, true)
	if _, err := s.Snooze(ctx, "c1", clk.Now().Add(time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if l := list(t, s, sam, handoff.FolderMine); len(l) != 0 {
		t.Fatal("a snoozed chat stays in Mine")
	}
	if l := list(t, s, sam, handoff.FolderSnoozed); len(l) != 1 {
		t.Fatal("not in Snoozed")
	}
	// Two timers fire at once, on two instances: one wakes it.
	var wg sync.WaitGroup
	changed := make([]bool, 2)
	for j, st := range []*handoff.Store{s, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if _, changed[j], err = st.Unsnooze(ctx, "c1"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if changed[0] == changed[1] {
		t.Fatalf("two unsnoozes at once changed %v, want exactly one", changed)
	}
	if _, changed, _ := s.Unsnooze(ctx, "c1"); changed {
		t.Fatal("a third unsnooze changed something")
	}
	if l := list(t, s, sam, handoff.FolderMine); len(l) != 1 {
		t.Fatal("not back in Mine after unsnooze")
	}
	// Until the reply, unassigned: back in the queue.
	queued(t, s, "c2", "sales")
	c, err := s.Snooze(ctx, "c2", clk.Now().Add(time.Hour), true)
	if err != nil || !c.UntilReply {
		t.Fatalf("snooze until reply: %+v, %v", c, err)
	}
	// Taking a snoozed chat keeps it snoozed.
	if c, _, err := s.Assign(ctx, "c2", sam, true); err != nil || c.Status != handoff.StatusSnoozed || c.Assignee != sam.ID {
		t.Fatalf("taking a snoozed chat: %+v, %v", c, err)
	}
	if l := list(t, s, sam, handoff.FolderSnoozed); len(l) != 1 || l[0].ID != "c2" {
		t.Fatalf("snoozed after a take: %v", ids(l))
	}
	if _, woke, err := s.Unsnooze(ctx, "c2"); err != nil || !woke {
		t.Fatalf("unsnooze c2: %v %v", woke, err)
	}
	if l := list(t, s, sam, handoff.FolderMine); len(l) != 2 {
		t.Fatalf("Mine after the second wake: %v", ids(l))
	}
	queued(t, s, "c3", "sales")
	s.Snooze(ctx, "c3", clk.Now().Add(time.Hour), true)
	if _, woke, _ := s.Unsnooze(ctx, "c3"); !woke {
		t.Fatal("c3 did not wake")
	}
	if q, _ := s.Queued(ctx, "sales", 10); len(q) != 1 || q[0] != "c3" {
		t.Fatalf("an unassigned chat woken goes back to the queue: %v", q)
	}
	if _, err := s.Snooze(ctx, "nope", clk.Now(), false); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("snoozing no chat: %v", err)
	}
}

func testRouting(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	a := addAgent(t, s, "amy", handoff.RoleAgent, "sales")
	b := addAgent(t, s, "bob", handoff.RoleAgent, "sales")
	if got, _ := s.PickAgent(ctx, "sales"); got != nil {
		t.Fatal("manual routing picked an agent")
	}
	if err := s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: "random"}); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("an unknown routing: %v", err)
	}
	if err := s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.RoundRobin, Capacity: 2}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := s2.TeamConfigOf(ctx, "sales"); err != nil || cfg != (handoff.TeamConfig{Routing: handoff.RoundRobin, Capacity: 2, Reopen: handoff.ReopenNever}) {
		t.Fatalf("routing read back: %+v, %v", cfg, err)
	}
	if got, _ := s.PickAgent(ctx, "sales"); got != nil {
		t.Fatal("picked an offline agent")
	}
	s.SetPresence(ctx, a, handoff.Online)
	s.SetPresence(ctx, b, handoff.Online)
	counts := map[string]int{}
	for i := range 4 {
		st := []*handoff.Store{s, s2}[i%2] // turns shared by both instances
		ag, err := st.PickAgent(ctx, "sales")
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
	open0, _ := s.OpenCount(ctx, []string{a.ID, b.ID})
	ag, _ := s.PickAgent(ctx, "sales")
	if ag == nil || open0[ag.ID] > open0[a.ID] || open0[ag.ID] > open0[b.ID] {
		t.Fatalf("least busy picked %v with open counts %v", ag, open0)
	}
}

// testHandOffMerges: the handoff fills in the visitor's details the bot
// collected without losing those the widget gave, records the bot's last
// message, moves the chat between teams' lists, and returns the team's
// routing.
func testHandOffMerges(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, _, _ := inboxes(t, open, handoff.Options{})
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
	if c.Visitor != want || c.Status != handoff.StatusOpen || c.Team != "sales" || c.Card != "sales" || c.Priority != "high" || c.Playbook != "p" {
		t.Fatalf("after the handoff: %+v", c)
	}
	if c.Last == nil || c.Last.Text != "Connecting you to sales…" || !c.Last.At.Equal(at) {
		t.Fatalf("last message %+v", c.Last)
	}
	// The team's waits come with the handoff (none recorded yet).
	if cfg.Waits == nil || len(*cfg.Waits) != 0 {
		t.Fatalf("the team's waits with the handoff: %v, want read and none", cfg.Waits)
	}
	cfg.Waits = nil
	if cfg != (handoff.TeamConfig{Routing: handoff.LeastBusy, Capacity: 3, Reopen: handoff.ReopenNever}) {
		t.Fatalf("routing %+v", cfg)
	}
	if again, err := s.Conversation(ctx, "h1"); err != nil || again.Visitor != want || again.Last == nil {
		t.Fatalf("stored %+v (%v)", again, err)
	}
	if q, _ := s.Queued(ctx, "sales", 10); len(q) != 1 || q[0] != "h1" {
		t.Fatalf("sales queue %v", q)
	}
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
	if _, err := s.Conversation(ctx, "nope"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a failed handoff made a record: %v", err)
	}
	if q, _ := s.Queued(ctx, "sales", 10); len(q) != 0 {
		t.Fatalf("a failed handoff left %v in the sales queue", q)
	}
}

// testMissed: a queued chat nobody took leaves the queue for the team's
// Missed folder (not for nowhere), names the agents who were online, is
// seen by its team only, and leaves Missed when resolved.
func testMissed(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, _, _ := inboxes(t, open, handoff.Options{})
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
	if n := len(list(t, s, kim, handoff.FolderUnassigned)); n != 0 {
		t.Errorf("the missed chat is still in Unassigned (%d)", n)
	}
	if n := len(list(t, s, kim, handoff.FolderMissed)); n != 1 {
		t.Errorf("kim sees %d chats in Missed, want 1", n)
	}
	if n := len(list(t, s, lou, handoff.FolderMissed)); n != 0 {
		t.Errorf("support sees %d of sales' missed chats", n)
	}
	if _, err := s.Snooze(ctx, "m1", time.Now().Add(time.Hour), false); !errors.Is(err, handoff.ErrInvalid) {
		t.Errorf("snoozing a missed chat: %v, want ErrInvalid", err)
	}
	if _, _, err := s.Resolve(ctx, "m1"); err != nil {
		t.Fatal(err)
	}
	if n := len(list(t, s, kim, handoff.FolderMissed)); n != 0 {
		t.Errorf("a resolved chat is still in Missed (%d)", n)
	}
	if n := len(list(t, s, kim, handoff.FolderClosed)); n != 1 {
		t.Errorf("the resolved chat is not in Closed (%d)", n)
	}
	// A chat resolved without a team is in team none's Closed (admins).
	if _, err := s.Start(ctx, handoff.Conversation{ID: "m2", Playbook: "p"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Resolve(ctx, "m2"); err != nil {
		t.Fatal(err)
	}
	boss := addAgent(t, s, "boss", handoff.RoleAdmin)
	if l := list(t, s, boss, handoff.FolderClosed); len(l) != 2 {
		t.Errorf("the admin's Closed holds %v, want m1 and m2", ids(l))
	}
}

// testQueuePosition: waiting chats have their place in the team's queue,
// first come first served; taking one moves those behind it up.
func testQueuePosition(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	for i, id := range []string{"q1", "q2", "q3"} {
		if c := queued(t, s, id, "sales"); c.QueuePosition != i+1 {
			t.Fatalf("%s queued at %d, want %d", id, c.QueuePosition, i+1)
		}
		clk.Advance(time.Second)
	}
	queued(t, s, "other", "support")
	pos := func(id string) int {
		t.Helper()
		_, p, err := s2.QueuePosition(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if a, b, c, o := pos("q1"), pos("q2"), pos("q3"), pos("other"); a != 1 || b != 2 || c != 3 || o != 1 {
		t.Fatalf("positions %d %d %d (support %d), want 1 2 3 (1)", a, b, c, o)
	}
	if q, _ := s.Queued(ctx, "sales", 2); len(q) != 2 || q[0] != "q1" || q[1] != "q2" {
		t.Fatalf("the oldest two queued: %v", q)
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

// testWaitEstimate: a chat taken from the queue records how long it
// waited; the estimate is the median of the team's latest RecentWaits,
// read on the other instance; a reassign, a missed chat taken later and
// another team's chats do not count.
func testWaitEstimate(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales", "support")
	kim := addAgent(t, s, "kim", handoff.RoleAgent, "sales")
	estimate := func(team string) (time.Duration, bool) {
		t.Helper()
		d, ok, err := s2.WaitEstimate(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		return d, ok
	}
	if d, ok := estimate("sales"); ok {
		t.Fatalf("an estimate of %v before any chat was taken", d)
	}
	take := func(id string, wait time.Duration, a *handoff.Agent) {
		t.Helper()
		queued(t, s, id, "sales")
		clk.Advance(wait)
		if _, _, err := s.Assign(ctx, id, a, true); err != nil {
			t.Fatal(err)
		}
	}
	take("w1", 30*time.Second, sam)
	if d, ok := estimate("sales"); !ok || d != 30*time.Second {
		t.Fatalf("after one wait of 30s: %v %v", d, ok)
	}
	take("w2", 90*time.Second, kim)
	take("w3", 20*time.Second, sam)
	if d, _ := estimate("sales"); d != 30*time.Second {
		t.Fatalf("median of 30s, 90s, 20s: %v, want 30s", d)
	}
	take("w4", 50*time.Second, sam)
	if d, _ := estimate("sales"); d != 40*time.Second {
		t.Fatalf("median of 30s, 90s, 20s, 50s: %v, want 40s (the middle two's mean)", d)
	}
	// A reassign is no pick-up; nor is a missed chat taken an hour later.
	clk.Advance(time.Hour)
	if _, _, err := s.Assign(ctx, "w2", sam, false); err != nil {
		t.Fatal(err)
	}
	queued(t, s, "late", "sales")
	if _, _, err := s.Miss(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour)
	if _, _, err := s.Assign(ctx, "late", kim, true); err != nil {
		t.Fatal(err)
	}
	if d, _ := estimate("sales"); d != 40*time.Second {
		t.Fatalf("after a reassign and a missed chat taken late: %v, want 40s still", d)
	}
	if d, ok := estimate("support"); ok {
		t.Fatalf("support has an estimate of %v from sales' chats", d)
	}
	// Only the latest RecentWaits count: older long waits fall out.
	for i := range handoff.RecentWaits {
		take(fmt.Sprint("r", i), 10*time.Second, sam)
	}
	if d, _ := estimate("sales"); d != 10*time.Second {
		t.Fatalf("after %d waits of 10s: %v, want 10s", handoff.RecentWaits, d)
	}
	if w, err := s2.Engine().Waits(ctx, "sales"); err != nil || len(w) != handoff.RecentWaits {
		t.Fatalf("the team keeps %d waits (%v), want %d", len(w), err, handoff.RecentWaits)
	}
}

// testQueuePositionLongQueue: every place in a longer queue, chats that
// arrived in bursts and after long waits (the embedded engine counts from
// the nearer end of the queue, chosen by time), before and after chats
// leave it from its head, its middle and its tail.
func testQueuePositionLongQueue(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	var queue []string
	gaps := []time.Duration{0, time.Hour, 0, 0, time.Millisecond, 0, time.Second, time.Hour, 0, 0, time.Minute, 0}
	for i, gap := range gaps {
		clk.Advance(gap)
		id := fmt.Sprintf("lq%02d", i)
		if c := queued(t, s, id, "sales"); c.QueuePosition != i+1 {
			t.Fatalf("%s queued at %d, want %d", id, c.QueuePosition, i+1)
		}
		queue = append(queue, id)
	}
	check := func(when string) {
		t.Helper()
		for i, id := range queue {
			if _, p, err := s2.QueuePosition(ctx, id); err != nil || p != i+1 {
				t.Fatalf("%s: %s at %d (%v), want %d", when, id, p, err, i+1)
			}
		}
	}
	check("all queued")
	for _, i := range []int{0, 5, 7, 8} { // of 12, 11, 10 and 9 queued: the head, the middle, near the tail, the tail
		id := queue[i]
		if _, _, err := s.Assign(ctx, id, sam, true); err != nil {
			t.Fatal(err)
		}
		queue = slices.Delete(queue, i, i+1)
		if _, p, err := s2.QueuePosition(ctx, id); err != nil || p != 0 {
			t.Fatalf("%s taken, still at %d (%v)", id, p, err)
		}
		check(id + " taken")
	}
}

// testAway records the team of a handoff that found its team away: the
// conversation then belongs to that team (who may see it) but is in none
// of its folders; a team it has is kept; a conversation without an inbox
// record is reported.
func testAway(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, _, _ := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	if _, err := s.Start(ctx, handoff.Conversation{ID: "a1", Playbook: "p", Visitor: handoff.Visitor{Email: "ana@acme.io"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Away(ctx, "a1", "sales"); err != nil {
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
		if l := list(t, s, sam, folder); len(l) != 0 {
			t.Errorf("the away chat is in %s: %+v", folder, l[0])
		}
	}
	if err := s.Away(ctx, "a1", "support"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Conversation(ctx, "a1"); c.Team != "sales" {
		t.Fatalf("team after a second away = %q, want sales", c.Team)
	}
	queued(t, s, "q1", "support")
	if err := s.Away(ctx, "q1", "sales"); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Conversation(ctx, "q1"); c.Team != "support" || c.Status != handoff.StatusOpen {
		t.Fatalf("queued chat after Away: %+v", c)
	}
	if err := s.Away(ctx, "nope", "sales"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("Away on no conversation: %v, want ErrNotFound", err)
	}
	if _, err := s.Conversation(ctx, "nope"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("Away made an inbox record: %v", err)
	}
}

// testGone: a chat whose session is gone (Options.Alive says so) leaves
// the live folders when listed, cannot be taken, and is swept by
// PurgeGone; Closed keeps it.
func testGone(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	var mu sync.Mutex
	dead := map[string]bool{}
	alive := func(_ context.Context, ids []string) (map[string]bool, error) {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]bool{}
		for _, id := range ids {
			out[id] = !dead[id]
		}
		return out, nil
	}
	s, other, _ := inboxes(t, open, handoff.Options{Alive: alive})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	for _, id := range []string{"g1", "g2", "g3", "g4"} {
		queued(t, s, id, "sales")
	}
	s.Assign(ctx, "g2", sam, true)
	s.Resolve(ctx, "g4")
	mu.Lock()
	dead["g1"], dead["g2"], dead["g4"] = true, true, true
	mu.Unlock()
	if _, _, err := s.Assign(ctx, "g1", sam, true); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("taking a chat whose session is gone: %v, want ErrNotFound", err)
	}
	if l := list(t, s, sam, handoff.FolderUnassigned); len(l) != 1 || l[0].ID != "g3" {
		t.Fatalf("unassigned = %v, want g3", ids(l))
	}
	n, err := s.PurgeGone(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 { // g2, in Open (g1 left every list when it was taken)
		t.Errorf("purged %d, want 1", n)
	}
	if l := list(t, s, sam, handoff.FolderMine); len(l) != 0 {
		t.Fatalf("Mine = %v after the purge", ids(l))
	}
	if l := list(t, s, sam, handoff.FolderOpen); len(l) != 1 || l[0].ID != "g3" {
		t.Fatalf("open = %v, want g3", ids(l))
	}
	if l := list(t, s, sam, handoff.FolderClosed); len(l) != 1 || l[0].ID != "g4" {
		t.Fatalf("closed = %v, want g4 (kept until its record expires)", ids(l))
	}
	if n, err := s.PurgeGone(ctx, 100); err != nil || n != 0 {
		t.Fatalf("a second purge removed %d, %v", n, err)
	}

	// Two processes purging at once (in a mixed fleet an older process
	// purges on its own schedule, whoever holds the lease): harmless.
	queued(t, s, "g5", "sales")
	mu.Lock()
	dead["g5"] = true
	mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range []*handoff.Store{s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.PurgeGone(ctx, 100); err != nil {
				t.Errorf("purging in two processes at once: %v", err)
			}
		}()
	}
	wg.Wait()
	if n, err := s.PurgeGone(ctx, 100); err != nil || n != 0 {
		t.Fatalf("a purge after two at once removed %d, %v", n, err)
	}
	if l := list(t, s, sam, handoff.FolderUnassigned); len(l) != 1 || l[0].ID != "g3" {
		t.Fatalf("unassigned = %v after two purges at once, want g3", ids(l))
	}
}

// testReopenPolicy: a team's reopen policy is stored (never by default);
// under never a resolved chat stays closed, under reopen it goes back to
// its assignee's Mine and the team's Open folder (or the queue when
// nobody had it), out of Closed; a chat that is not resolved does not
// reopen.
func testReopenPolicy(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	if cfg, err := s2.TeamConfigOf(ctx, "sales"); err != nil || cfg.Reopen != handoff.ReopenNever {
		t.Fatalf("default reopen policy: %+v, %v", cfg, err)
	}
	if err := s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.Manual, Reopen: "sometimes"}); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("an unknown reopen policy: %v", err)
	}
	queued(t, s, "r1", "sales")
	if _, _, err := s.Assign(ctx, "r1", sam, true); err != nil {
		t.Fatal(err)
	}
	c, _, err := s.Resolve(ctx, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Reopen(ctx, c); !errors.Is(err, handoff.ErrClosed) {
		t.Fatalf("reopen under never: %v, want ErrClosed", err)
	}
	if got, _ := s.Conversation(ctx, "r1"); got.Status != handoff.StatusResolved {
		t.Fatalf("under never the chat is %s", got.Status)
	}
	if err := s.SetTeamConfig(ctx, "sales", handoff.TeamConfig{Routing: handoff.Manual, Reopen: handoff.ReopenAllowed}); err != nil {
		t.Fatal(err)
	}
	if cfg, err := s2.TeamConfigOf(ctx, "sales"); err != nil || cfg != (handoff.TeamConfig{Routing: handoff.Manual, Reopen: handoff.ReopenAllowed}) {
		t.Fatalf("reopen policy read back: %+v, %v", cfg, err)
	}
	r, err := s2.Reopen(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != handoff.StatusOpen || r.ResolvedAt != nil || r.Assignee != sam.ID {
		t.Fatalf("reopened: %+v", r)
	}
	if l := list(t, s, sam, handoff.FolderClosed); len(l) != 0 {
		t.Fatalf("a reopened chat is still in Closed: %v", ids(l))
	}
	if l := list(t, s, sam, handoff.FolderMine); len(l) != 1 || l[0].ID != "r1" {
		t.Fatalf("Mine after the reopen: %v", ids(l))
	}
	if l := list(t, s, sam, handoff.FolderOpen); len(l) != 1 || l[0].ID != "r1" {
		t.Fatalf("Open after the reopen: %v", ids(l))
	}
	if _, err := s.Reopen(ctx, r); !errors.Is(err, handoff.ErrNotResolved) {
		t.Fatalf("reopening an open chat: %v, want ErrNotResolved", err)
	}
	// It can be resolved again.
	if again, _, err := s.Resolve(ctx, "r1"); err != nil || again.Status != handoff.StatusResolved {
		t.Fatalf("resolving a reopened chat: %+v, %v", again, err)
	}

	// Nobody had it (missed, then resolved): back in the queue.
	queued(t, s, "r2", "sales")
	if _, _, err := s.Miss(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	c2, _, err := s.Resolve(ctx, "r2")
	if err != nil {
		t.Fatal(err)
	}
	if r2, err := s.Reopen(ctx, c2); err != nil || r2.Status != handoff.StatusOpen || r2.Assignee != "" {
		t.Fatalf("reopening an unassigned chat: %+v, %v", r2, err)
	}
	if q, _ := s.Queued(ctx, "sales", 10); len(q) != 1 || q[0] != "r2" {
		t.Fatalf("queue after reopening an unassigned chat: %v", q)
	}
	if l := list(t, s, sam, handoff.FolderClosed); len(l) != 1 || l[0].ID != "r1" {
		t.Fatalf("Closed after both: %v", ids(l))
	}
}

// HandOffWork checks the work a turn's handoff carries in HandOff's own
// step (issue 13: a handoff turn in two round trips): the turn's timers,
// set as Timers.Set sets them and claimed once when due, and the records
// of the earlier conversations the caller names, read with it. Open
// returns an inbox and the timer queue of the same engine and data.
func HandOffWork(t *testing.T, open func(t *testing.T) (store.InboxEngine, store.Timers)) {
	ctx := context.Background()
	in, timers := open(t)
	if h, ok := in.(store.HandOffTimers); !ok || !h.SetsTimersOf(timers) {
		t.Fatal("the engine's HandOff does not set timers in its own timer queue")
	}
	clk := NewClock()
	s := handoff.NewStore(in, handoff.Options{Now: clk.Now, PresenceTimeout: 30 * time.Second, PasswordCost: bcrypt.MinCost})
	vis := handoff.Visitor{ID: "v7", Email: "ana@acme.io"}
	if _, err := s.Start(ctx, handoff.Conversation{ID: "w0", Playbook: "p", Visitor: vis}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Queue(ctx, "w0", "support", "", "help"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	c1, err := s.Start(ctx, handoff.Conversation{ID: "w1", Playbook: "p", Visitor: vis})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c1.Previous, []string{"w0"}) {
		t.Fatalf("previous of w1: %v, want [w0]", c1.Previous)
	}
	due := clk.Now().Add(5 * time.Minute)
	c, _, err := s.HandOff(ctx, "w1", handoff.Handoff{Team: "sales", Card: "sales",
		Timers:   []store.Timer{{ID: "wait", At: due}, {ID: "nudge", At: due.Add(time.Minute)}},
		Previous: []string{"w0", "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Team != "sales" || c.Status != handoff.StatusOpen || c.QueuePosition != 1 {
		t.Fatalf("after the handoff: %+v", c)
	}
	if !slices.Equal(c.PreviousRead, []store.PreviousChat{{ID: "w0", Team: "support"}}) {
		t.Fatalf("the earlier conversations read with the handoff: %v, want w0 of support alone", c.PreviousRead)
	}
	if got, err := timers.Claim(ctx, due.Add(-time.Millisecond), 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed before the wait ran out: %v (%v)", got, err)
	}
	got, err := timers.Claim(ctx, due.Add(time.Minute), 10)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range got {
		if d.Conversation != "w1" {
			t.Fatalf("timer of %q, want w1", d.Conversation)
		}
		names = append(names, d.ID+"@"+d.At.Sub(due).String())
	}
	if !slices.Equal(names, []string{"wait@0s", "nudge@1m0s"}) {
		t.Fatalf("timers set with the handoff: %v, want wait@0s, nudge@1m0s", names)
	}
	if again, err := timers.Claim(ctx, due.Add(time.Hour), 10); err != nil || len(again) != 0 {
		t.Fatalf("claimed twice: %v (%v)", again, err)
	}
	// Without Previous nothing is read; a handoff without timers sets none.
	c, _, err = s.HandOff(ctx, "w1", handoff.Handoff{Team: "sales"})
	if err != nil || c.PreviousRead != nil {
		t.Fatalf("a handoff without Previous: %v (%v)", c.PreviousRead, err)
	}
	if got, err := timers.Claim(ctx, due.Add(time.Hour), 10); err != nil || len(got) != 0 {
		t.Fatalf("timers of a handoff without any: %v (%v)", got, err)
	}
}
