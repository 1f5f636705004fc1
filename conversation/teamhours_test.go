package conversation

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
)

// gatedTeams holds its first ListedTeams until open is closed, and counts
// the reads.
type gatedTeams struct {
	store.InboxEngine
	reads   atomic.Int32
	entered chan struct{}
	open    chan struct{}
}

func (g *gatedTeams) ListedTeams(ctx context.Context) ([]string, error) {
	if g.reads.Add(1) == 1 {
		close(g.entered)
		<-g.open
	}
	return g.InboxEngine.ListedTeams(ctx)
}

// TestTeamHoursDroppedWhileReadAreReadAgain: a teams_changed event (or a
// Resync) that arrives while the hours are being read must not be lost:
// the hours read before it are not kept, the next turn reads them again.
// (Before, the read stored what it had read after the drop, and a change
// an admin made meanwhile reached open_hours() only a minute later.)
func TestTeamHoursDroppedWhileReadAreReadAgain(t *testing.T) {
	ctx := context.Background()
	db, err := embedded.Open(t.TempDir(), embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	g := &gatedTeams{InboxEngine: embedded.NewEngine(db).Inbox(), entered: make(chan struct{}), open: make(chan struct{})}
	th := &teamHours{inbox: handoff.NewStore(g, handoff.Options{}), now: time.Now}

	done := make(chan error, 1)
	go func() { _, err := th.get(ctx); done <- err }()
	<-g.entered
	th.Receive("inbox", `{"type":"teams_changed"}`) // while the first read is under way
	close(g.open)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := th.get(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.reads.Load(); n != 2 {
		t.Errorf("%d reads of the teams, want 2: the hours read before the change were kept", n)
	}
	// Cached from now on.
	if _, err := th.get(ctx); err != nil {
		t.Fatal(err)
	}
	if n := g.reads.Load(); n != 2 {
		t.Errorf("%d reads of the teams, want 2 (the third get is cached)", n)
	}
}
