package conversation_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	storeapi "github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// The service's unit tests run on an in-process Redis stand-in: no HTTP,
// no server, no network but loopback, under go test -short.

const signup = `playbook: signup
vars:
  email: {type: email}
cards:
  ask:
    ask: Your email?
    input: email
    save: email
  thanks:
    say: Thanks, we will write to you.
    create:
      lead:
        title: "{{ email }}"
        person: {email: email}
    end: lead
`

const desk = `playbook: desk
cards:
  hi:
    handoff:
      team: sales
      say: Connecting you to sales...
      offline: away
  away:
    say: Nobody is here.
    end: away
`

// queueing hands off to sales, with a wait, once the visitor answers.
const queueing = `playbook: queue
vars:
  topic: {type: string}
cards:
  ask:
    ask: What is it about?
    save: topic
  rep:
    handoff:
      team: sales
      say: Connecting you to sales...
      wait: 2m
      offline: away
  away:
    say: Nobody is here.
    end: away
`

// salesOnline says one agent of every team is online.
type salesOnline struct{}

func (salesOnline) Online(_ context.Context, _ *engine.Session, teams []string) (map[string]int, error) {
	out := map[string]int{}
	for _, t := range teams {
		out[t] = 1
	}
	return out, nil
}

// fakeRecords records the records the service hands it; it fails the
// first `fails` calls, as a CRM that is away would.
type fakeRecords struct {
	mu    sync.Mutex
	fails int
	calls int
	made  map[string]engine.Record
}

func (f *fakeRecords) Create(_ context.Context, conv string, rec engine.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.calls <= f.fails {
		return redis.ErrClosed
	}
	if f.made == nil {
		f.made = map[string]engine.Record{}
	}
	f.made[conv+"/"+rec.Key] = rec
	return nil
}

func (f *fakeRecords) count() (calls, made int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls, len(f.made)
}

// fakePublisher keeps what the service publishes.
type fakePublisher struct {
	mu  sync.Mutex
	msg []string
}

func (p *fakePublisher) Publish(_ context.Context, channel, payload string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msg = append(p.msg, channel+" "+payload)
	return nil
}

type fixture struct {
	svc     *conversation.Service
	store   *redisstore.Store
	inbox   *handoff.Store
	records *fakeRecords
	pub     *fakePublisher
	rdb     *redis.Client
	prog    *engine.Program
	desk    *engine.Program
	// now is the service's clock: the test goroutine reads it directly and
	// moves it only with advance; the service's goroutines read it through
	// clock, under mu.
	now time.Time
	mu  sync.Mutex
}

// advance moves the fixture's clock by d.
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

func newFixture(t *testing.T, fails int, recoverAfter time.Duration) *fixture {
	t.Helper()
	return newFixtureWith(t, fails, recoverAfter, nil)
}

// newFixtureWith is newFixture whose service sets its timers through
// timers (nil: the store's own).
func newFixtureWith(t *testing.T, fails int, recoverAfter time.Duration, timers func(*redisstore.Timers) storeapi.Timers) *fixture {
	t.Helper()
	return newFixtureOn(t, fails, recoverAfter, timers, false)
}

// newFixtureOn is newFixtureWith whose service publishes on a Bus of its
// Redis client when bus is set (f.pub then hears nothing; f.rdb does).
func newFixtureOn(t *testing.T, fails int, recoverAfter time.Duration, timers func(*redisstore.Timers) storeapi.Timers, bus bool) *fixture {
	t.Helper()
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { rdb.Close() })
	f := &fixture{records: &fakeRecords{fails: fails}, pub: &fakePublisher{}, rdb: rdb, now: time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)}
	var pub conversation.Publisher = f.pub
	if bus {
		pub = redisstore.NewBus(rdb)
	}
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	store := redisstore.New(rdb, redisstore.Options{Prefix: "t:", Pending: conversation.LeavesWork, Now: clock})
	inbox := handoff.NewStore(redisstore.NewInbox(rdb, "t:"), handoff.Options{Prefix: "t:", Alive: store.Alive, PasswordCost: bcrypt.MinCost})
	dir := t.TempDir()
	for name, src := range map[string]string{"signup.yaml": signup, "desk.yaml": desk, "queue.yaml": queueing} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.store, f.inbox = store, inbox
	timersOf := func(q *redisstore.Timers) storeapi.Timers {
		if timers == nil {
			return q
		}
		return timers(q)
	}
	reg := conversation.NewRegistry(dir, store.Programs(), quiet(), clock)
	if diags, err := reg.Reload(context.Background(), true); err != nil || diags.HasErrors() {
		t.Fatalf("loading the playbook: %v %v", diags, err)
	}
	svc, err := conversation.New(conversation.Config{
		Store: store, Timers: timersOf(store.Timers()), Inbox: inbox, CRM: crm.New(redisstore.NewCRM(rdb, "t:"), redisstore.NewCRM(rdb, "t:"), crm.Options{}), Registry: reg,
		Publisher: pub, Records: f.records, RecoverAfter: recoverAfter, Logger: quiet(), Now: clock,
		Presence: salesOnline{},
	})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	f.prog, _ = reg.Current("signup")
	f.desk, _ = reg.Current("desk")
	return f
}

func texts(entries []redisstore.Entry) []string {
	var out []string
	for _, e := range entries {
		if e.Kind == "message" {
			out = append(out, e.From+": "+e.Text)
		}
	}
	return out
}

// TestStartAndTurn: a start stores the greeting and the inbox record; a
// visitor's turn stores their message and the bot's answer, ends the
// conversation, and its effect (a lead) reaches Records; the same client
// message id again is a duplicate that does nothing twice.
func TestStartAndTurn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0, 0)
	var greeted []redisstore.Entry
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.prog, Locale: "en"}, func(_ *engine.Session, res redisstore.Result) {
		greeted = res.Entries
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(greeted); !slices.Equal(got, []string{"bot: Your email?"}) {
		t.Fatalf("the greeting is %q", got)
	}
	if c, err := f.inbox.Conversation(ctx, sess.ID); err != nil || c.Playbook != "signup" || c.Status != handoff.StatusBot {
		t.Fatalf("inbox record %+v, %v", c, err)
	}
	if !sess.StartedAt.Equal(f.now) {
		t.Fatalf("started at %v, want the service clock's %v", sess.StartedAt, f.now)
	}

	f.advance(time.Minute)
	msg := redisstore.Entry{From: "visitor", Kind: "message", Text: "ada@example.com", ClientID: "m1", At: f.now}
	ev := engine.Event{Kind: engine.EventText, Text: "ada@example.com"}
	res, info, err := f.svc.Turn(ctx, sess.ID, "m1", ev, &msg)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(res.Entries); !slices.Equal(got, []string{"visitor: ada@example.com", "bot: Thanks, we will write to you."}) {
		t.Fatalf("the turn stored %q", got)
	}
	if info.Before != engine.StatusWaiting || info.Status != engine.StatusEnded || info.Outcome != "lead" {
		t.Fatalf("turn info %+v", info)
	}
	if calls, made := f.records.count(); calls != 1 || made != 1 {
		t.Fatalf("Records got %d calls, %d records; want the lead once", calls, made)
	}
	// The turn's CRM side runs in the background; its mark is cleared
	// when that is over.
	waitFor(t, "the turn's pending mark to be cleared", func() bool {
		n, err := f.store.PendingCount(ctx)
		return err == nil && n == 0
	})

	again, _, err := f.svc.Turn(ctx, sess.ID, "m1", ev, &msg)
	if err != nil || !again.Duplicate || again.Entries[0].ID != res.Entries[0].ID {
		t.Fatalf("the same message again: %+v, %v; want a duplicate answered from the transcript", again, err)
	}
	if calls, _ := f.records.count(); calls != 1 {
		t.Fatalf("a duplicate created the record again (%d calls)", calls)
	}
}

// TestTimersFireOnTheServiceClock: a timer set by an effect fires when the
// service's clock reaches it, not before, and only once.
func TestTimersFireOnTheServiceClock(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0, 0)
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.prog}, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := f.store.Timers()
	if err := store.Set(ctx, sess.ID, "nudge", f.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.svc.FireTimers(ctx)
	if due, err := store.Claim(ctx, f.now.Add(time.Hour), 10); err != nil || len(due) != 1 {
		t.Fatalf("FireTimers took a timer that was not due (left %v, %v)", due, err)
	}
	if err := store.Set(ctx, sess.ID, "nudge", f.now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Hour)
	f.svc.FireTimers(ctx)
	if due, err := store.Claim(ctx, f.now.Add(24*time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("a due timer was not fired: %v, %v", due, err)
	}
}

// waitFor polls cond until it holds; the deadline only guards against a
// hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestAgentActionsAskTheAccessPolicy: an agent of another team can neither
// read nor take a queued sales chat (access.ErrForbidden, and nothing
// changes); a sales agent takes it, the visitor is told, and resolving it
// ends it for the visitor.
func TestAgentActionsAskTheAccessPolicy(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0, 0)
	add := func(name, team string) *handoff.Agent {
		a, err := f.inbox.AddAgent(ctx, handoff.NewAgent{Email: name + "@example.com", Name: name, Teams: []string{team}, Password: "correct horse"})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	sam, sue := add("Sam", "sales"), add("Sue", "support")
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.desk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != engine.StatusHandoff {
		t.Fatalf("the desk playbook did not hand off: %s", sess.Status)
	}
	if c, err := f.inbox.Conversation(ctx, sess.ID); err != nil || c.Team != "sales" || c.Status != handoff.StatusOpen {
		t.Fatalf("the chat is not queued for sales: %+v, %v", c, err)
	}

	if _, err := f.svc.Conversation(ctx, sue, sess.ID); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("support reads the sales chat: %v, want ErrForbidden", err)
	}
	if _, err := f.svc.Details(ctx, sue, sess.ID); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("support reads the sales chat's details: %v, want ErrForbidden", err)
	}
	if d, err := f.svc.Details(ctx, sam, sess.ID); err != nil || d.SessionStatus == nil || *d.SessionStatus != engine.StatusHandoff || d.Card == nil || *d.Card != "hi" {
		t.Fatalf("Sam reads the details: %+v, %v", d, err)
	}
	for name, act := range map[string]func() (*handoff.Conversation, error){
		"take":     func() (*handoff.Conversation, error) { return f.svc.Take(ctx, sue, sess.ID, "") },
		"resolve":  func() (*handoff.Conversation, error) { return f.svc.Resolve(ctx, sue, sess.ID) },
		"labels":   func() (*handoff.Conversation, error) { return f.svc.SetLabels(ctx, sue, sess.ID, []string{"x"}, nil) },
		"transfer": func() (*handoff.Conversation, error) { return f.svc.Transfer(ctx, sue, sess.ID, "support") },
		"snooze":   func() (*handoff.Conversation, error) { return f.svc.Snooze(ctx, sue, sess.ID, "tomorrow") },
	} {
		if _, err := act(); !errors.Is(err, access.ErrForbidden) {
			t.Errorf("support's %s of the sales chat: %v, want ErrForbidden", name, err)
		}
	}
	if c, _ := f.inbox.Conversation(ctx, sess.ID); c.Assignee != "" || c.Status != handoff.StatusOpen || len(c.Labels) != 0 || c.Team != "sales" {
		t.Fatalf("a refused action changed the chat: %+v", c)
	}

	c, err := f.svc.Take(ctx, sam, sess.ID, "")
	if err != nil || c.Assignee != sam.ID {
		t.Fatalf("Sam takes the chat: %+v, %v", c, err)
	}
	if _, err := f.svc.Snooze(ctx, sam, sess.ID, "yesterday"); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("a snooze until yesterday: %v, want ErrInvalid", err)
	}
	if c, err = f.svc.Resolve(ctx, sam, sess.ID); err != nil || c.Status != handoff.StatusResolved {
		t.Fatalf("Sam resolves the chat: %+v, %v", c, err)
	}
	entries, err := f.store.Transcript(ctx, sess.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range entries {
		if e.From == "system" {
			kinds = append(kinds, e.Kind)
		}
	}
	if !slices.Equal(kinds, []string{"handoff", "joined", "resolved", "end"}) {
		t.Fatalf("the visitor's transcript has system entries %v, want handoff, joined, resolved, end", kinds)
	}
}

// TestLeaveMessage: a visitor waiting for an agent leaves a message
// instead: the handoff's offline path runs at once, the chat is missed for
// its team, its wait timer is cancelled; a conversation that waits for
// nobody refuses it.
func TestLeaveMessage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0, 0)
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.desk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != engine.StatusHandoff || sess.Timer == "" {
		t.Fatalf("the desk playbook waits without a timer: %s %q", sess.Status, sess.Timer)
	}
	var stored []redisstore.Entry
	err = f.svc.LeaveMessage(ctx, sess.ID, "l1", "  ", func(res redisstore.Result, info conversation.TurnInfo) {
		stored = res.Entries
		if info.Status != engine.StatusEnded {
			t.Errorf("after leaving a message the session is %s, want ended", info.Status)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(stored); !slices.Equal(got, []string{"visitor: Leave a message instead", "bot: Nobody is here."}) {
		t.Fatalf("stored %q", got)
	}
	if c, err := f.inbox.Conversation(ctx, sess.ID); err != nil || c.Status != handoff.StatusMissed {
		t.Fatalf("the chat is %+v, %v; want missed", c, err)
	}
	if due, err := f.store.Timers().Claim(ctx, f.now.Add(24*time.Hour), 10); err != nil || len(due) != 0 {
		t.Fatalf("the wait timer is still set: %v, %v", due, err)
	}
	if err := f.svc.LeaveMessage(ctx, sess.ID, "l2", "again", nil); !errors.Is(err, conversation.ErrNotWaiting) {
		t.Fatalf("leaving a message twice: %v, want ErrNotWaiting", err)
	}
	if err := f.svc.LeaveMessage(ctx, "nope", "l3", "x", nil); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("an unknown conversation: %v, want ErrNotFound", err)
	}
}

// TestHandOffTurnCarriesItsTimerAndPrevious: a turn that hands a
// returning visitor's chat off, as the widget runs it (TurnThen), sets
// its wait timer and reads the visitor's earlier chat in the queue's own
// step (Handoff.Timers, Handoff.Previous): the timer is due once, when
// the wait runs out, and the agents' new-chat notice names the earlier
// chat with its team for the access policy (previous_known).
func TestHandOffTurnCarriesItsTimerAndPrevious(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0, 0)
	vis := engine.Visitor{ID: "v9"}
	first, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.desk, Visitor: vis}, nil)
	if err != nil || first.Status != engine.StatusHandoff {
		t.Fatalf("the first chat: %v %v", first, err)
	}
	f.advance(time.Minute)
	prog, _ := f.svc.Registry().Current("queue")
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: prog, Visitor: vis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	handedAt := f.now
	msg := redisstore.Entry{From: "visitor", Kind: "message", Text: "pricing", ClientID: "m1", At: f.now}
	var queued *handoff.Conversation
	_, _, err = f.svc.TurnThen(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "pricing"}, []redisstore.Entry{msg}, func(_ redisstore.Result, info conversation.TurnInfo) {
		queued = info.Queued
	})
	if err != nil {
		t.Fatal(err)
	}
	if queued == nil || queued.Team != "sales" || !slices.Equal(queued.Previous, []string{first.ID}) {
		t.Fatalf("queued %+v, want for sales with the first chat before it", queued)
	}
	var notice *conversation.InboxEvent
	f.pub.mu.Lock()
	for _, m := range f.pub.msg {
		_, payload, _ := strings.Cut(m, " ")
		var ev conversation.InboxEvent
		if json.Unmarshal([]byte(payload), &ev) == nil && ev.Kind == "new_chat" && ev.Conversation != nil && ev.Conversation.ID == sess.ID {
			notice = &ev
		}
	}
	f.pub.mu.Unlock()
	if notice == nil {
		t.Fatal("no new-chat notice for the handed-off chat")
	}
	if len(notice.PreviousKnown) != 1 || notice.PreviousKnown[0].ID != first.ID || notice.PreviousKnown[0].Team != "sales" {
		t.Fatalf("the notice's earlier chats %+v, want the first chat of sales", notice.PreviousKnown)
	}
	timers := f.store.Timers()
	claim := func(now time.Time) []redisstore.Due {
		due, err := timers.Claim(ctx, now, 10)
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(due, func(d redisstore.Due) bool { return d.Conversation != sess.ID }) // the first chat's own wait
	}
	if due := claim(handedAt.Add(2*time.Minute - time.Millisecond)); len(due) != 0 {
		t.Fatalf("due before the wait ran out: %v", due)
	}
	if due := claim(handedAt.Add(time.Hour)); len(due) != 1 || !due[0].At.Equal(handedAt.Add(2*time.Minute)) {
		t.Fatalf("due after the wait: %+v, want the handed-off chat's wait once, at %v", due, handedAt.Add(2*time.Minute))
	}
}

// failingTimers fails the first fails calls of Set, as a timer queue that
// is away would.
type failingTimers struct {
	storeapi.Timers
	mu    sync.Mutex
	fails int
}

func (f *failingTimers) Set(ctx context.Context, conv, id string, at time.Time) error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return errors.New("timers away")
	}
	return f.Timers.Set(ctx, conv, id, at)
}

// TestSweepSetsTheWaitOfAQueuedChat: a handoff turn whose chat was
// queued but whose wait timer was not set (its write failed, or the
// process died between the two) keeps its pending mark, and the sweep
// sets the timer although the chat is queued already: the wait still runs
// out. (The sweep used to take a queued chat for done work.)
func TestSweepSetsTheWaitOfAQueuedChat(t *testing.T) {
	ctx := context.Background()
	f := newFixtureWith(t, 0, time.Minute, func(q *redisstore.Timers) storeapi.Timers { return &failingTimers{Timers: q, fails: 1} })
	prog, _ := f.svc.Registry().Current("queue")
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: prog, Visitor: engine.Visitor{ID: "v1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	handedAt := f.now
	msg := redisstore.Entry{From: "visitor", Kind: "message", Text: "pricing", ClientID: "m1", At: f.now}
	if _, _, err := f.svc.TurnThen(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "pricing"}, []redisstore.Entry{msg}, func(redisstore.Result, conversation.TurnInfo) {}); err != nil {
		t.Fatal(err)
	}
	if c, err := f.inbox.Conversation(ctx, sess.ID); err != nil || c.Status != handoff.StatusOpen || c.Team != "sales" {
		t.Fatalf("the chat is not queued: %+v (%v)", c, err)
	}
	waitFor(t, "the turn's work to end", func() bool { return f.svc.Settle(ctx) == nil })
	if n, _ := f.store.PendingCount(ctx); n != 1 {
		t.Fatalf("%d pending marks after the wait timer failed, want 1", n)
	}
	f.advance(61 * time.Second)
	f.svc.RecoverPending(ctx)
	if n, _ := f.store.PendingCount(ctx); n != 0 {
		t.Fatalf("%d pending marks after the sweep, want 0", n)
	}
	due, err := f.store.Timers().Claim(ctx, handedAt.Add(time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Conversation != sess.ID || !due[0].At.Equal(handedAt.Add(2*time.Minute)) {
		t.Fatalf("timers after the sweep: %+v, want the chat's wait at %v", due, handedAt.Add(2*time.Minute))
	}
}

// TestHandOffNoticeGoesOutInTheQueuesStep: where the inbox publishes on
// the service's Bus (one Redis node), a handoff turn reads the chat's
// inbox record and earlier chats with its write, and the agents' new-chat
// notice goes out in the queue's own step: once, with the record as
// queued and the earlier chat's team for the access policy.
func TestHandOffNoticeGoesOutInTheQueuesStep(t *testing.T) {
	ctx := context.Background()
	f := newFixtureOn(t, 0, 0, nil, true)
	sub := f.rdb.Subscribe(ctx, f.inbox.InboxChannel())
	t.Cleanup(func() { sub.Close() })
	if _, err := sub.Receive(ctx); err != nil { // subscribed
		t.Fatal(err)
	}
	vis := engine.Visitor{ID: "v9"}
	first, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: f.desk, Visitor: vis}, nil)
	if err != nil || first.Status != engine.StatusHandoff {
		t.Fatalf("the first chat: %v %v", first, err)
	}
	f.advance(time.Minute)
	prog, _ := f.svc.Registry().Current("queue")
	sess, _, err := f.svc.Start(ctx, conversation.StartRequest{Program: prog, Visitor: vis}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	msg := redisstore.Entry{From: "visitor", Kind: "message", Text: "pricing", ClientID: "m1", At: f.now}
	var queued *handoff.Conversation
	_, _, err = f.svc.TurnThen(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "pricing"}, []redisstore.Entry{msg}, func(_ redisstore.Result, info conversation.TurnInfo) {
		queued = info.Queued
	})
	if err != nil {
		t.Fatal(err)
	}
	if queued == nil || !queued.NoticeSent {
		t.Fatalf("queued %+v: the notice did not go out in the queue's step", queued)
	}
	// Everything published until now, then the test's own sentinel.
	if err := f.rdb.Publish(ctx, f.inbox.InboxChannel(), "sentinel").Err(); err != nil {
		t.Fatal(err)
	}
	var notices []conversation.InboxEvent
	for {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second) // a hang guard
		m, err := sub.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if m.Payload == "sentinel" {
			break
		}
		var ev conversation.InboxEvent
		if json.Unmarshal([]byte(m.Payload), &ev) == nil && ev.Kind == "new_chat" && ev.Conversation != nil && ev.Conversation.ID == sess.ID {
			notices = append(notices, ev)
		}
	}
	if len(notices) != 1 {
		t.Fatalf("%d new-chat notices for the chat, want 1", len(notices))
	}
	n := notices[0]
	if n.Conversation.Status != handoff.StatusOpen || n.Conversation.Team != "sales" || n.Conversation.QueuedAt == nil {
		t.Fatalf("the notice's chat %+v, want queued for sales", n.Conversation)
	}
	if len(n.PreviousKnown) != 1 || n.PreviousKnown[0].ID != first.ID || n.PreviousKnown[0].Team != "sales" {
		t.Fatalf("the notice's earlier chats %+v, want the first chat of sales", n.PreviousKnown)
	}
}
