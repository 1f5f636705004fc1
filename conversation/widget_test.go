package conversation_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/transcript"
)

// The visitor side (Widget) on the embedded engine in a temp dir: no
// HTTP, no websocket, no Redis; the frames a widget pushes are collected.

// frames collects what a widget pushes, and signals each push.
type frames struct {
	mu     sync.Mutex
	got    []protocol.Frame
	pushed chan struct{}
}

func newFrames() *frames { return &frames{pushed: make(chan struct{}, 1000)} }

func (f *frames) Push(fr protocol.Frame) {
	f.mu.Lock()
	f.got = append(f.got, fr)
	f.mu.Unlock()
	f.pushed <- struct{}{}
}

func (f *frames) Flush() {}

// take returns the frames pushed so far and forgets them.
func (f *frames) take() []protocol.Frame {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.got
	f.got = nil
	return out
}

// waitFor waits until a pushed frame satisfies ok (guarded by a timeout
// against a hang) and returns it; the frames before it are dropped.
func (f *frames) waitFor(t *testing.T, what string, ok func(protocol.Frame) bool) protocol.Frame {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		f.mu.Lock()
		for i, fr := range f.got {
			if ok(fr) {
				f.got = f.got[i+1:]
				f.mu.Unlock()
				return fr
			}
		}
		f.mu.Unlock()
		select {
		case <-f.pushed:
		case <-timeout:
			t.Fatalf("no %s within 30s", what)
		}
	}
}

// waitAll waits until a pushed frame satisfies ok (guarded by a timeout
// against a hang) and returns every frame pushed up to it.
func (f *frames) waitAll(t *testing.T, what string, ok func(protocol.Frame) bool) []protocol.Frame {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		f.mu.Lock()
		for i, fr := range f.got {
			if ok(fr) {
				out := f.got[:i+1]
				f.got = f.got[i+1:]
				f.mu.Unlock()
				return out
			}
		}
		f.mu.Unlock()
		select {
		case <-f.pushed:
		case <-timeout:
			t.Fatalf("no %s within 30s", what)
		}
	}
}

// kinds lists the frames as "type" or "entry:FROM:KIND".
func kinds(frs []protocol.Frame) []string {
	var out []string
	for _, fr := range frs {
		if e, ok := fr.(*protocol.EntryFrame); ok {
			out = append(out, "entry:"+e.Entry.From+":"+e.Entry.Kind)
			continue
		}
		out = append(out, fr.FrameType())
	}
	return out
}

// withoutAck takes the one ack out of frs.
func withoutAck(frs []protocol.Frame) (*protocol.Ack, []protocol.Frame) {
	var ack *protocol.Ack
	var rest []protocol.Frame
	for _, fr := range frs {
		if a, ok := fr.(*protocol.Ack); ok && ack == nil {
			ack = a
			continue
		}
		rest = append(rest, fr)
	}
	return ack, rest
}

// mailed is a conversation.Mailer that keeps the addresses it sent to.
type mailed struct {
	mu sync.Mutex
	to []string
}

func (m *mailed) Send(_ context.Context, to, subject, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.to = append(m.to, to+" "+subject)
	return nil
}

type widgetFixture struct {
	// runHub starts the hub (newWidgetFixture does, unless told not to).
	runHub  func()
	svc     *conversation.Service
	widgets *conversation.Widgets
	tokens  *conversation.Tokens
	inbox   *handoff.Store
	mail    *mailed
	now     time.Time
}

func newWidgetFixture(t *testing.T) *widgetFixture {
	t.Helper()
	f := newWidgetFixtureIdle(t)
	f.runHub()
	return f
}

// newWidgetFixtureIdle is newWidgetFixture whose hub is not running yet.
func newWidgetFixtureIdle(t *testing.T) *widgetFixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng := embedded.NewEngine(db)
	sessions := eng.Sessions(store.SessionOptions{TTL: time.Hour, Pending: conversation.LeavesWork})
	inbox := handoff.NewStore(eng.Inbox(), handoff.Options{Alive: sessions.Alive, PasswordCost: bcrypt.MinCost})
	dir := t.TempDir()
	for name, src := range map[string]string{"signup.yaml": signup, "desk.yaml": desk} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &widgetFixture{inbox: inbox, mail: &mailed{}, now: time.Now().UTC()}
	reg := conversation.NewRegistry(dir, eng.Programs(time.Hour), quiet(), nil)
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("loading the playbooks: %v %v", diags, err)
	}
	svc, err := conversation.New(conversation.Config{
		Store: sessions, Timers: eng.Timers(), Inbox: inbox, CRM: crm.New(eng.CRM(), eng.CRM(), crm.Options{}), Registry: reg,
		Publisher: eng.Bus(), Presence: salesOnline{}, Logger: quiet(),
		Mail: f.mail, MailQuota: eng.Mail(),
	})
	if err != nil {
		t.Fatal(err)
	}
	hub := conversation.NewHub(eng.Bus(), quiet())
	done := make(chan struct{})
	f.runHub = func() { go func() { hub.Run(ctx); close(done) }() }
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second): // never ran
		}
		db.Close()
	})
	f.svc = svc
	f.tokens = conversation.NewTokens([]byte("test secret"), time.Hour)
	f.widgets, err = svc.Widgets(conversation.WidgetsConfig{Hub: hub, Tokens: f.tokens})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *widgetFixture) open(t *testing.T) (*conversation.Widget, *frames) {
	out := newFrames()
	w := f.widgets.Open(out, conversation.Allow{}, quiet())
	t.Cleanup(w.Close)
	return w, out
}

func (f *widgetFixture) start(t *testing.T, w *conversation.Widget, playbook string) {
	t.Helper()
	prog, ok := f.svc.Registry().Current(playbook)
	if !ok {
		t.Fatalf("no playbook %s", playbook)
	}
	if err := w.Start(context.Background(), prog, &protocol.Start{Playbook: playbook, Locale: "en"}); err != nil {
		t.Fatal(err)
	}
}

// TestWidgetStartMessageResume: a start pushes welcome, the greeting and
// the status; a message its ack, the visitor's and the bot's entries and
// the new status; a second connection resuming after the first entry gets
// only what came after it.
func TestWidgetStartMessageResume(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	w, out := f.open(t)
	f.start(t, w, "signup")
	got := out.take()
	if k := kinds(got); !slices.Equal(k, []string{"welcome", "entry:bot:message", "status"}) {
		t.Fatalf("start pushed %q", k)
	}
	welcome := got[0].(*protocol.Welcome)
	first := got[1].(*protocol.EntryFrame).Entry
	if welcome.Conversation == "" || welcome.Conversation != w.Conversation() || !welcome.Mail || welcome.Playbook != "signup" {
		t.Fatalf("welcome %+v", welcome)
	}
	if conv, err := f.tokens.Verify(ctx, welcome.Token, time.Now()); err != nil || conv != w.Conversation() {
		t.Fatalf("the welcome's token verifies as %q, %v", conv, err)
	}
	if first.Card != "" {
		t.Fatalf("the greeting carries its card %q to the visitor", first.Card)
	}

	if err := w.Message(ctx, &protocol.Message{ID: "m1", Text: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	got = out.take()
	// The ack may come before or after the turn's entries (docs/protocol.md:
	// match it by id): the live echo of the turn can reach the connection
	// before the turn's own answer does.
	ack, rest := withoutAck(got)
	if k := kinds(rest); ack == nil || !slices.Equal(k, []string{"entry:visitor:message", "entry:bot:message", "entry:system:end", "status"}) {
		t.Fatalf("the message pushed %q", kinds(got))
	}
	if ack.ID != "m1" || ack.Duplicate || ack.Entry != rest[0].(*protocol.EntryFrame).Entry.ID {
		t.Fatalf("ack %+v for the visitor's entry %q", ack, rest[0].(*protocol.EntryFrame).Entry.ID)
	}
	for _, fr := range got {
		if e, ok := fr.(*protocol.EntryFrame); ok && e.Entry.Kind == "end" && e.Entry.Data != nil {
			t.Fatalf("the end's outcome reached the visitor: %v", e.Entry.Data)
		}
	}
	if st := got[4].(*protocol.Status); st.Status != "ended" || st.Outcome != "lead" {
		t.Fatalf("status %+v", st)
	}
	// The record the bot made stays with the agents.
	for _, fr := range got {
		if e, ok := fr.(*protocol.EntryFrame); ok && e.Entry.Kind == "record" {
			t.Fatal("a record entry reached the visitor")
		}
	}

	w2, out2 := f.open(t)
	if err := w2.Resume(ctx, &protocol.Resume{Token: welcome.Token, After: first.ID}); err != nil {
		t.Fatal(err)
	}
	if k := kinds(out2.take()); !slices.Equal(k, []string{"welcome", "entry:visitor:message", "entry:bot:message", "entry:system:end", "status"}) {
		t.Fatalf("resume after the greeting pushed %q", k)
	}
}

// TestWidgetLiveAcrossConnections: a second tab of the same conversation
// gets the first tab's turn live (through the hub), exactly once.
func TestWidgetLiveAcrossConnections(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	w, out := f.open(t)
	f.start(t, w, "signup")
	welcome := out.take()[0].(*protocol.Welcome)
	w2, out2 := f.open(t)
	if err := w2.Resume(ctx, &protocol.Resume{Token: welcome.Token}); err != nil {
		t.Fatal(err)
	}
	out2.take()
	if err := w.Message(ctx, &protocol.Message{ID: "m1", Text: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	end := func(fr protocol.Frame) bool { e, ok := fr.(*protocol.EntryFrame); return ok && e.Entry.Kind == "end" }
	got := out2.waitAll(t, "the end entry on the second tab", end)
	if k := kinds(got); !slices.Equal(k, []string{"entry:visitor:message", "entry:bot:message", "entry:system:end"}) {
		t.Fatalf("the second tab got %q", k)
	}
	// The first tab's own turn is not sent to it again by the hub: once
	// its echo is past, a typing signal is the next frame it gets.
	out.take()
	f.svc.PublishSignal(ctx, w.Conversation(), conversation.Signal{Type: "typing", From: "agent", On: true})
	if k := kinds(out.waitAll(t, "typing on the first tab", func(fr protocol.Frame) bool { return fr.FrameType() == "typing" })); !slices.Equal(k, []string{"typing"}) {
		t.Fatalf("the first tab got %q after its own turn", k)
	}
}

// TestWidgetFollowingBeforeTheHubListens: a widget that began following
// before the hub listened (a visitor reconnecting the moment a process
// starts) may have missed what was published in between: once the hub
// listens, it catches up from the transcript.
func TestWidgetFollowingBeforeTheHubListens(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixtureIdle(t)
	w, out := f.open(t)
	f.start(t, w, "signup")
	welcome := out.take()[0].(*protocol.Welcome)
	w2, out2 := f.open(t)
	if err := w2.Resume(ctx, &protocol.Resume{Token: welcome.Token}); err != nil {
		t.Fatal(err)
	}
	out2.take()
	if err := w.Message(ctx, &protocol.Message{ID: "m1", Text: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	f.runHub()
	end := func(fr protocol.Frame) bool { e, ok := fr.(*protocol.EntryFrame); return ok && e.Entry.Kind == "end" }
	got := out2.waitAll(t, "the end entry on the second tab", end)
	if k := kinds(got); !slices.Equal(k, []string{"entry:visitor:message", "entry:bot:message", "entry:system:end"}) {
		t.Fatalf("the second tab got %q", k)
	}
}

// TestWidgetErrors: every refusal is a domain error whose frame
// (ErrorFrame) has the documented code, and nothing else goes out.
func TestWidgetErrors(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	w, out := f.open(t)
	code := func(err error) protocol.Code {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		return conversation.ErrorFrame(err, "x").Code
	}
	if c := code(w.Message(ctx, &protocol.Message{ID: "m", Text: "hi"})); c != protocol.CodeNoConversation {
		t.Errorf("message before start: %s", c)
	}
	if c := code(w.Start(ctx, nil, &protocol.Start{Playbook: "nope"})); c != protocol.CodeNoPlaybook {
		t.Errorf("start of an unknown playbook: %s", c)
	}
	if c := code(w.Resume(ctx, &protocol.Resume{Token: "abc.1.sig"})); c != protocol.CodeBadToken {
		t.Errorf("resume with a forged token: %s", c)
	}
	if c := code(w.Resume(ctx, &protocol.Resume{Token: f.tokens.Sign("gone", time.Now())})); c != protocol.CodeNotFound {
		t.Errorf("resume of a conversation that does not exist: %s", c)
	}
	if got := out.take(); len(got) != 0 {
		t.Fatalf("refusals pushed %q", kinds(got))
	}
	f.start(t, w, "signup")
	out.take()
	if c := code(w.Transcript(ctx, &protocol.TranscriptRequest{ID: "t1", Email: "ada@example.com"})); c != protocol.CodeNotEnded {
		t.Errorf("transcript of a running conversation: %s", c)
	}
	if c := code(w.Rate(ctx, &protocol.Rating{Score: 5})); c != protocol.CodeNotResolved {
		t.Errorf("rating a running conversation: %s", c)
	}
	if c := code(w.LeaveMessage(ctx, &protocol.LeaveMessage{ID: "l1"})); c != protocol.CodeInvalid {
		t.Errorf("leaving a message when nobody is waited for: %s", c)
	}
	if c := code(w.Message(ctx, &protocol.Message{ID: "m2", Text: ""})); c != protocol.CodeInvalid {
		t.Errorf("an empty message: %s", c)
	}
	limited := f.widgets.Open(newFrames(), conversation.Allow{Message: func() bool { return false }}, quiet())
	defer limited.Close()
	f.start(t, limited, "signup")
	if c := code(limited.Message(ctx, &protocol.Message{ID: "m3", Text: "ada@example.com"})); c != protocol.CodeRateLimited {
		t.Errorf("a message over the limit: %s", c)
	}
	// A rating may be sent again (the star click, then the comment), so it
	// counts as a message: a visitor clicking stars without end is slowed.
	if c := code(limited.Rate(ctx, &protocol.Rating{Score: 5})); c != protocol.CodeRateLimited {
		t.Errorf("a rating over the limit: %s", c)
	}
	if got := out.take(); len(got) != 0 {
		t.Fatalf("refusals pushed %q", kinds(got))
	}
}

// TestWidgetTranscriptOnceEnded: once the bot ended the chat, the
// transcript goes to the address the visitor gave, and a second address
// is refused.
func TestWidgetTranscriptOnceEnded(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	w, out := f.open(t)
	f.start(t, w, "signup")
	if err := w.Message(ctx, &protocol.Message{ID: "m1", Text: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	out.take()
	if err := w.Transcript(ctx, &protocol.TranscriptRequest{ID: "t1", Email: "ada@example.com"}); err != nil {
		t.Fatalf("transcript after the end: %v", err)
	}
	if k := kinds(out.take()); !slices.Equal(k, []string{"sent"}) {
		t.Fatalf("pushed %q, want sent", k)
	}
	f.mail.mu.Lock()
	to := slices.Clone(f.mail.to)
	f.mail.mu.Unlock()
	if !slices.Equal(to, []string{"ada@example.com Your conversation with us"}) {
		t.Fatalf("mailed %q", to)
	}
	err := w.Transcript(ctx, &protocol.TranscriptRequest{ID: "t2", Email: "eve@example.com"})
	if p := conversation.ErrorFrame(err, "t2"); p.Code != protocol.CodeWrongAddress {
		t.Fatalf("a second address: %v", err)
	}
}

// TestWidgetQueueAndLeaveMessage: a start that hands off to a team pushes
// the visitor's place in its queue; leaving a message instead ends the
// wait (the offline path runs) and the chat is missed for the team.
func TestWidgetQueueAndLeaveMessage(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	w, out := f.open(t)
	f.start(t, w, "desk")
	q := out.waitFor(t, "queue frame", func(fr protocol.Frame) bool { _, ok := fr.(*protocol.Queue); return ok }).(*protocol.Queue)
	if q.Team != "sales" || q.Position != 1 {
		t.Fatalf("queue %+v, want sales 1", q)
	}
	if err := w.LeaveMessage(ctx, &protocol.LeaveMessage{ID: "l1", Label: "Leave a message"}); err != nil {
		t.Fatal(err)
	}
	st := out.waitFor(t, "status after leaving a message", func(fr protocol.Frame) bool { _, ok := fr.(*protocol.Status); return ok }).(*protocol.Status)
	if st.Status != "ended" || st.Outcome != "away" {
		t.Fatalf("status %+v, want ended away", st)
	}
	c, err := f.inbox.Conversation(ctx, w.Conversation())
	if err != nil || c.Status != handoff.StatusMissed {
		t.Fatalf("inbox record %+v, %v; want missed", c, err)
	}
	if err := w.LeaveMessage(ctx, &protocol.LeaveMessage{ID: "l2"}); !errors.Is(err, conversation.ErrNotWaiting) {
		t.Fatalf("leaving a message twice: %v", err)
	}
}

// TestWidgetQueueEstimate: the queue frame says how long the team's chats
// usually wait (the median of its recent pick-up times) and says nothing
// while the team has none.
func TestWidgetQueueEstimate(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	isQueue := func(fr protocol.Frame) bool { _, ok := fr.(*protocol.Queue); return ok }
	w1, out1 := f.open(t)
	f.start(t, w1, "desk")
	if q := out1.waitFor(t, "queue frame", isQueue).(*protocol.Queue); q.Position != 1 || q.EstimateSeconds != 0 {
		t.Fatalf("with no pick-up times yet: %+v, want place 1 and no estimate", q)
	}
	for _, d := range []time.Duration{time.Minute, 4 * time.Minute, 3 * time.Minute} {
		if err := f.inbox.Engine().AddWait(ctx, "sales", d, handoff.RecentWaits); err != nil {
			t.Fatal(err)
		}
	}
	w2, out2 := f.open(t)
	f.start(t, w2, "desk")
	if q := out2.waitFor(t, "queue frame", isQueue).(*protocol.Queue); q.Position != 2 || q.EstimateSeconds != 180 {
		t.Fatalf("after waits of 1, 4 and 3 minutes: %+v, want place 2 and 180 s", q)
	}
}

// TestErrorFrameKeepsCausesInternal: an unknown error is unavailable, and
// its text never reaches the visitor.
func TestErrorFrameKeepsCausesInternal(t *testing.T) {
	p := conversation.ErrorFrame(errors.New("dial tcp 10.0.0.7:6379: connection refused"), "m1")
	if p.Code != protocol.CodeUnavailable || p.ID != "m1" || strings.Contains(p.Message, "10.0.0.7") {
		t.Fatalf("ErrorFrame = %+v", p)
	}
	if conversation.ErrorFrame(nil, "") != nil {
		t.Fatal("ErrorFrame(nil) is not nil")
	}
	for _, err := range []error{conversation.ErrNoConversation, conversation.ErrBadToken, conversation.ErrExpiredToken,
		conversation.ErrNotWaiting, conversation.ErrMailFailed, conversation.ErrTooFast, conversation.ErrPlaybookGone, &conversation.NoPlaybookError{Name: "x"},
		store.ErrNotFound, handoff.ErrNotFound, handoff.ErrRated, handoff.ErrNotResolved, handoff.ErrInvalid,
		transcript.ErrNoMail, transcript.ErrNotEnded, transcript.ErrBadAddress, transcript.ErrOtherAddress, transcript.ErrTooMany, transcript.ErrBusy} {
		p := conversation.ErrorFrame(err, "")
		if p.Code == protocol.CodeUnavailable || !slices.Contains(protocol.Codes, p.Code) {
			t.Errorf("ErrorFrame(%v) = %s, want a documented code of its own", err, p.Code)
		}
	}
}

// TestWidgetAgentChatThenANewConversation: an agent takes the waiting
// chat, replies, writes a private note and deletes the reply; the widget
// gets the agent's entries live, never the note, and the reply without its
// text. Once the agent resolves the chat, the visitor's next message
// starts a new conversation that links to the old one.
func TestWidgetAgentChatThenANewConversation(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	boss, err := f.inbox.AddAgent(ctx, handoff.NewAgent{Email: "boss@example.com", Name: "Boss", Teams: []string{"sales"}, Role: handoff.RoleAdmin, Password: "long enough"})
	if err != nil {
		t.Fatal(err)
	}
	w, out := f.open(t)
	f.start(t, w, "desk")
	old := w.Conversation()
	out.waitAll(t, "the queue frame", func(fr protocol.Frame) bool { return fr.FrameType() == "queue" })
	if _, err := f.svc.Take(ctx, boss, old, ""); err != nil {
		t.Fatal(err)
	}
	reply, err := f.svc.Reply(ctx, boss, old, "Hello, I am Boss", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Note(ctx, boss, old, "VIP customer", "n1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.DeleteEntry(ctx, boss, old, reply.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Resolve(ctx, boss, old); err != nil {
		t.Fatal(err)
	}
	got := out.waitAll(t, "the resolved entry", func(fr protocol.Frame) bool {
		e, ok := fr.(*protocol.EntryFrame)
		return ok && e.Entry.Kind == "resolved"
	})
	var seen []string
	for _, fr := range got {
		e, ok := fr.(*protocol.EntryFrame)
		if !ok {
			continue
		}
		seen = append(seen, e.Entry.From+":"+e.Entry.Kind)
		switch {
		case e.Entry.Kind == "note":
			t.Fatalf("the note reached the visitor: %+v", e.Entry)
		case e.Entry.From == "agent" && e.Entry.Data != nil:
			t.Fatalf("the agent's id reached the visitor: %+v", e.Entry)
		}
	}
	for _, want := range []string{"system:joined", "agent:message", "system:deleted", "system:resolved"} {
		if !slices.Contains(seen, want) {
			t.Fatalf("the widget got %q, without %s", seen, want)
		}
	}
	// A tab that opens the chat now reads the reply without its text.
	w2, out2 := f.open(t)
	if err := w2.Resume(ctx, &protocol.Resume{Token: f.tokens.Sign(old, time.Now())}); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fr := range out2.take() {
		if e, ok := fr.(*protocol.EntryFrame); ok && e.Entry.ID == reply.ID {
			found = true
			if e.Entry.Text != "" || e.Entry.From != "agent" {
				t.Fatalf("the deleted reply on resume: %+v", e.Entry)
			}
		}
	}
	if !found {
		t.Fatal("the deleted reply is not in the transcript on resume")
	}
	out.take()
	if err := w.Message(ctx, &protocol.Message{ID: "m9", Text: "One more question"}); err != nil {
		t.Fatal(err)
	}
	welcome := out.waitAll(t, "a new welcome", func(fr protocol.Frame) bool { return fr.FrameType() == "welcome" })
	next := welcome[len(welcome)-1].(*protocol.Welcome).Conversation
	if next == old || next != w.Conversation() {
		t.Fatalf("the message after resolve went to %q (old %q, followed %q)", next, old, w.Conversation())
	}
	c, err := f.inbox.Conversation(ctx, next)
	if err != nil || !slices.Contains(c.Previous, old) {
		t.Fatalf("the new conversation %+v, %v does not link to %s", c, err, old)
	}
}

// echoFrames is frames that, when the ack of a turn is pushed (the turn is
// stored, its entries not sent yet), has the widget receive what the hub
// would bring then: the turn's own echo, here with a body that does not
// decode, so that decoding it would show in the log.
type echoFrames struct {
	*frames
	w       *conversation.Widget
	channel string
}

func (f *echoFrames) Push(fr protocol.Frame) {
	if ack, ok := fr.(*protocol.Ack); ok && f.w != nil {
		f.w.Receive(f.channel, ack.Entry+" {not json")
	}
	f.frames.Push(fr)
}

// TestWidgetDropsItsOwnEchoUnread (issue 13): the live echo of a turn of
// the widget's own that comes while the turn is being answered is held
// until the turn's entries are sent, then dropped by its id without being
// decoded; the turn's frames are the usual ones.
func TestWidgetDropsItsOwnEchoUnread(t *testing.T) {
	ctx := context.Background()
	f := newWidgetFixture(t)
	var logged bytes.Buffer
	var logMu sync.Mutex
	out := &echoFrames{frames: newFrames()}
	w := f.widgets.Open(out, conversation.Allow{}, slog.New(slog.NewTextHandler(&lockedWriter{w: &logged, mu: &logMu}, nil)))
	t.Cleanup(w.Close)
	f.start(t, w, "signup")
	out.take()
	out.w, out.channel = w, f.svc.Channel(w.Conversation())
	if err := w.Message(ctx, &protocol.Message{ID: "m1", Text: "ada@example.com"}); err != nil {
		t.Fatal(err)
	}
	ack, rest := withoutAck(out.take())
	if k := kinds(rest); ack == nil || !slices.Equal(k, []string{"entry:visitor:message", "entry:bot:message", "entry:system:end", "status"}) {
		t.Fatalf("the message pushed %q", k)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if strings.Contains(logged.String(), "bad live message") {
		t.Fatalf("the widget decoded its own echo: %s", logged.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
