package conversation_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/store"
)

// fakeBus is a store.Bus with one listener whose subscriptions the test
// reads, and into which it can put a break (a Resync message).
type fakeBus struct {
	mu     sync.Mutex
	subs   map[string]bool
	calls  []string // "sub CH" and "unsub CH", in order
	msgs   chan store.Message
	listen chan struct{} // closed once Listen was called
}

func newFakeBus() *fakeBus {
	return &fakeBus{subs: map[string]bool{}, msgs: make(chan store.Message, 100), listen: make(chan struct{})}
}

func (b *fakeBus) Publish(_ context.Context, ch, payload string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[ch] {
		b.msgs <- store.Message{Channel: ch, Payload: payload}
	}
	return nil
}

func (b *fakeBus) Listen(context.Context) (store.Listener, error) {
	close(b.listen)
	return fakeListener{b}, nil
}

func (b *fakeBus) log() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

type fakeListener struct{ b *fakeBus }

func (l fakeListener) Subscribe(_ context.Context, chs ...string) error {
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	for _, ch := range chs {
		l.b.subs[ch] = true
		l.b.calls = append(l.b.calls, "sub "+ch)
	}
	return nil
}

func (l fakeListener) Unsubscribe(_ context.Context, chs ...string) error {
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	for _, ch := range chs {
		delete(l.b.subs, ch)
		l.b.calls = append(l.b.calls, "unsub "+ch)
	}
	return nil
}

func (l fakeListener) Messages() <-chan store.Message { return l.b.msgs }
func (l fakeListener) Close() error                   { return nil }

// recorder is a Subscriber that passes what it gets to a channel.
type recorder struct{ got chan string }

func newRecorder() *recorder                   { return &recorder{got: make(chan string, 100)} }
func (r *recorder) Receive(ch, payload string) { r.got <- ch + " " + payload }
func (r *recorder) Resync(ch string)           { r.got <- ch + " resync" }
func (r *recorder) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.got:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("nothing received within 30s")
		return ""
	}
}

// TestHubSubscribesWhileFollowed: a channel is subscribed once while any
// subscriber follows it and unsubscribed when the last one leaves; what is
// published reaches every follower; a break tells them to resync; those
// that followed before the hub listened resync once it does.
func TestHubSubscribesWhileFollowed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	bus := newFakeBus()
	hub := conversation.NewHub(bus, quiet())
	early, a, b := newRecorder(), newRecorder(), newRecorder()
	if err := hub.Attach(ctx, "x", early); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if got := early.next(t); got != "x resync" {
		t.Fatalf("the early follower got %q, want a resync once the hub listens", got)
	}
	hub.Detach("x", early)
	// Run holds the listener once it resynced the early ones.
	if err := hub.Attach(ctx, "c1", a); err != nil {
		t.Fatal(err)
	}
	if err := hub.Attach(ctx, "c1", b); err != nil {
		t.Fatal(err)
	}
	if err := bus.Publish(ctx, "c1", "hello"); err != nil {
		t.Fatal(err)
	}
	if ga, gb := a.next(t), b.next(t); ga != "c1 hello" || gb != "c1 hello" {
		t.Fatalf("followers got %q and %q", ga, gb)
	}
	bus.msgs <- store.Message{Channel: "c1", Resync: true}
	if ga, gb := a.next(t), b.next(t); ga != "c1 resync" || gb != "c1 resync" {
		t.Fatalf("after a break the followers got %q and %q", ga, gb)
	}
	hub.Detach("c1", a)
	if err := bus.Publish(ctx, "c1", "again"); err != nil {
		t.Fatal(err)
	}
	if gb := b.next(t); gb != "c1 again" {
		t.Fatalf("the remaining follower got %q", gb)
	}
	hub.Detach("c1", b)
	want := []string{"sub x", "unsub x", "sub c1", "unsub c1"}
	if got := bus.log(); !slices.Equal(got, want) {
		t.Fatalf("subscriptions %q, want %q", got, want)
	}
	select {
	case s := <-a.got:
		t.Fatalf("a detached follower got %q", s)
	default:
	}
}

// fakePatternListener is fakeListener that takes patterns too (as the
// Redis bus's does); the test publishes into msgs itself.
type fakePatternListener struct{ fakeListener }

func (l fakePatternListener) PSubscribe(_ context.Context, ps ...string) error {
	l.b.mu.Lock()
	defer l.b.mu.Unlock()
	for _, p := range ps {
		l.b.calls = append(l.b.calls, "psub "+p)
	}
	return nil
}

type fakePatternBus struct{ *fakeBus }

func (b fakePatternBus) Listen(context.Context) (store.Listener, error) {
	close(b.listen)
	return fakePatternListener{fakeListener{b.fakeBus}}, nil
}

// TestPatternHubSubscribesOnce: with a bus that takes patterns, the
// conversations' channels are heard through one pattern subscription made
// when the hub listens: following and leaving them subscribes nothing;
// other channels are subscribed one by one as before. What is published
// reaches the followers only; a break of the pattern tells every follower
// of its channels to resync.
func TestPatternHubSubscribesOnce(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	bus := fakePatternBus{newFakeBus()}
	hub := conversation.NewPatternHub(bus, "pb:{c:*}:live", quiet())
	early, a, b, team := newRecorder(), newRecorder(), newRecorder(), newRecorder()
	if err := hub.Attach(ctx, "pb:{c:1}:live", early); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	if got := early.next(t); got != "pb:{c:1}:live resync" {
		t.Fatalf("the early follower got %q, want a resync once the hub listens", got)
	}
	for _, f := range []struct {
		ch  string
		sub *recorder
	}{{"pb:{c:2}:live", a}, {"pb:{c:3}:live", b}, {"pb:team:sales", team}} {
		if err := hub.Attach(ctx, f.ch, f.sub); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []store.Message{
		{Channel: "pb:{c:9}:live", Payload: "nobody follows"},
		{Channel: "pb:{c:2}:live", Payload: "to a"},
		{Channel: "pb:{c:3}:live", Payload: "to b"},
		{Channel: "pb:team:sales", Payload: "to the team"},
	} {
		bus.msgs <- m
	}
	if ga, gb, gt := a.next(t), b.next(t), team.next(t); ga != "pb:{c:2}:live to a" || gb != "pb:{c:3}:live to b" || gt != "pb:team:sales to the team" {
		t.Fatalf("followers got %q, %q and %q", ga, gb, gt)
	}
	bus.msgs <- store.Message{Channel: "pb:{c:*}:live", Resync: true}
	got := []string{early.next(t), a.next(t), b.next(t)}
	if want := []string{"pb:{c:1}:live resync", "pb:{c:2}:live resync", "pb:{c:3}:live resync"}; !slices.Equal(got, want) {
		t.Fatalf("after a break of the pattern the followers got %q, want %q", got, want)
	}
	hub.Detach("pb:{c:1}:live", early)
	hub.Detach("pb:{c:2}:live", a)
	hub.Detach("pb:team:sales", team)
	bus.msgs <- store.Message{Channel: "pb:{c:2}:live", Payload: "after a left"}
	bus.msgs <- store.Message{Channel: "pb:{c:3}:live", Payload: "still b's"}
	if gb := b.next(t); gb != "pb:{c:3}:live still b's" {
		t.Fatalf("the remaining follower got %q", gb)
	}
	select {
	case s := <-a.got:
		t.Fatalf("a detached follower got %q", s)
	case s := <-team.got:
		t.Fatalf("a detached follower got %q", s)
	default:
	}
	want := []string{"psub pb:{c:*}:live", "sub pb:team:sales", "unsub pb:team:sales"}
	if got := bus.log(); !slices.Equal(got, want) {
		t.Fatalf("subscriptions %q, want %q", got, want)
	}
}

// A turn of a follower's own may be quiet while nobody else on the
// process follows its conversation; once the turn is stored, whoever came
// meanwhile is told to catch up, and the turn's own follower is not.
func TestHubAloneAndCatchUpOthers(t *testing.T) {
	h := conversation.NewHub(newFakeBus(), quiet())
	ctx := context.Background()
	own, other := newRecorder(), newRecorder()
	if !h.Alone("c", own) || !h.Alone("c", nil) {
		t.Fatal("a conversation nobody follows is not alone")
	}
	if err := h.Attach(ctx, "c", own); err != nil {
		t.Fatal(err)
	}
	if !h.Alone("c", own) {
		t.Fatal("a conversation followed by the turn's own follower only is not alone")
	}
	if h.Alone("c", nil) {
		t.Fatal("a followed conversation is alone for a turn of nobody's")
	}
	if err := h.Attach(ctx, "c", other); err != nil {
		t.Fatal(err)
	}
	if h.Alone("c", own) {
		t.Fatal("a conversation with a second follower is alone")
	}
	h.CatchUpOthers("c", own)
	if got := other.next(t); got != "c resync" {
		t.Fatalf("the other follower got %q, want a resync", got)
	}
	select {
	case got := <-own.got:
		t.Fatalf("the turn's own follower got %q", got)
	default:
	}
}

// BenchmarkHubAloneTurn is what a visitor's quiet turn asks of the hub: is
// its widget alone on its conversation, and, once the turn is stored, the
// followers that came meanwhile (none).
func BenchmarkHubAloneTurn(b *testing.B) {
	h := conversation.NewHub(newFakeBus(), quiet())
	own := newRecorder()
	if err := h.Attach(context.Background(), "c", own); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !h.Alone("c", own) {
			b.Fatal("not alone")
		}
		h.CatchUpOthers("c", own)
	}
}
