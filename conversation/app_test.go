package conversation_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

// newApp is an App on the embedded engine in a temporary directory, on
// the playbooks signup and desk.
func newApp(t *testing.T, opts conversation.Options) *conversation.App {
	t.Helper()
	db, err := embedded.Open(t.TempDir(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if opts.Playbooks == "" {
		opts.Playbooks = t.TempDir()
		for name, src := range map[string]string{"signup.yaml": signup, "desk.yaml": desk} {
			if err := os.WriteFile(filepath.Join(opts.Playbooks, name), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	app, err := conversation.NewApp(embedded.NewEngine(db), opts)
	if err != nil {
		t.Fatal(err)
	}
	return app
}

func TestNewAppRefusesAMissingEngineOrDirectory(t *testing.T) {
	if _, err := conversation.NewApp(nil, conversation.Options{Playbooks: "."}); err == nil {
		t.Error("an App without an engine was built")
	}
	db, err := embedded.Open(t.TempDir(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := conversation.NewApp(embedded.NewEngine(db), conversation.Options{}); err == nil {
		t.Error("an App without a playbooks directory was built")
	}
}

// TestAppWiresTheServicesOnOneEngine: the App's service, inbox and
// conversation store are one application: a conversation the service
// starts is in the App's store and in its inbox, and a handoff with an
// agent online queues it in the inbox the App returns.
func TestAppWiresTheServicesOnOneEngine(t *testing.T) {
	ctx := context.Background()
	app := newApp(t, conversation.Options{Presence: salesOnline{}})
	prog, ok := app.Registry().Current("desk")
	if !ok {
		t.Fatalf("the App loaded %v, not desk", app.Registry().All())
	}
	var created store.Result
	sess, _, err := app.Service().Start(ctx, conversation.StartRequest{Program: prog, Locale: "en"}, func(_ *engine.Session, res store.Result) { created = res })
	if err != nil {
		t.Fatal(err)
	}
	if len(created.Entries) == 0 {
		t.Fatal("the start stored no entry")
	}
	entries, err := app.Sessions().Transcript(ctx, sess.ID, "", 0)
	if err != nil || len(entries) != len(created.Entries) {
		t.Fatalf("the App's store has %d entries (%v), the start stored %d", len(entries), err, len(created.Entries))
	}
	c, err := app.Inbox().Conversation(ctx, sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c.Status != handoff.StatusOpen || c.Assignee != "" || c.Team != "sales" {
		t.Fatalf("the App's inbox has %+v; want it queued for sales", c)
	}
}

// TestAppRunStopsWithItsContext: Run returns once its context ends.
func TestAppRunStopsWithItsContext(t *testing.T) {
	app := newApp(t, conversation.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// flakyEngine is an engine whose Ping fails while down is set.
type flakyEngine struct {
	store.Engine
	down atomic.Bool
}

func (e *flakyEngine) Ping(ctx context.Context) error {
	if e.down.Load() {
		return errors.New("connection refused")
	}
	return e.Engine.Ping(ctx)
}

// TestAppReadyFollowsTheStoreAndDrain: Ready answers nil while the engine
// answers, an error while it does not and nil again when it is back;
// after Drain it answers ErrDraining whatever the engine says.
func TestAppReadyFollowsTheStoreAndDrain(t *testing.T) {
	db, err := embedded.Open(t.TempDir(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	eng := &flakyEngine{Engine: embedded.NewEngine(db)}
	app, err := conversation.NewApp(eng, conversation.Options{Playbooks: t.TempDir(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := app.Ready(ctx); err != nil {
		t.Fatalf("ready with the store up: %v", err)
	}
	eng.down.Store(true)
	if err := app.Ready(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("ready with the store down: %v, want the store's error", err)
	}
	eng.down.Store(false)
	if err := app.Ready(ctx); err != nil {
		t.Fatalf("ready with the store back: %v", err)
	}
	if app.Draining() {
		t.Fatal("draining before Drain")
	}
	app.Drain()
	if err := app.Ready(ctx); !errors.Is(err, conversation.ErrDraining) {
		t.Fatalf("ready after Drain: %v, want ErrDraining", err)
	}
	if !app.Draining() {
		t.Fatal("not draining after Drain")
	}
}
