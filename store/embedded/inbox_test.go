package embedded_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/handoff"

	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/storetest"
)

// inboxes opens a DB in a fresh directory and two inboxes on it (two
// users of the one process's database).
func inboxes(t *testing.T) (store.InboxEngine, store.InboxEngine) {
	db, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return embedded.NewInbox(db), embedded.NewInbox(db)
}

func TestInbox(t *testing.T)    { storetest.Inbox(t, inboxes) }
func TestAgents(t *testing.T)   { storetest.Agents(t, inboxes) }
func TestPresence(t *testing.T) { storetest.Presence(t, inboxes) }
func TestCanned(t *testing.T)   { storetest.Canned(t, inboxes) }

// TestInboxRetentionAndSignInExpiry: on the embedded engine a
// conversation's record expires Retention after its last activity (a
// message renews it), an expired chat leaves the folders that listed it,
// and sign-ins and login-attempt windows expire by the DB's clock;
// surviving a reopen of the directory.
func TestInboxRetentionAndSignInExpiry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	db := open(t, dir, clk)
	st := handoff.NewStore(embedded.NewInbox(db), handoff.Options{Now: clk.Now, Retention: 48 * time.Hour, PasswordCost: bcrypt.MinCost})
	sam, err := st.AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam", Teams: []string{"sales"}, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"old", "busy"} {
		if _, err := st.Start(ctx, handoff.Conversation{ID: id, Playbook: "p", Visitor: handoff.Visitor{Email: id + "@acme.io"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Queue(ctx, id, "sales", "", "sales"); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := st.Login(ctx, "sam@example.com", "correct horse", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for range handoff.LoginPerEmail {
		st.Login(ctx, "sam@example.com", "wrong", "10.0.0.1")
	}
	if _, err := st.Login(ctx, "sam@example.com", "correct horse", "10.0.0.1"); !errors.Is(err, handoff.ErrTooMany) {
		t.Fatalf("after 5 wrong passwords: %v", err)
	}
	clk.Add(30 * time.Hour)
	busy, _ := st.Conversation(ctx, "busy")
	if err := st.Touch(ctx, busy, handoff.Last{From: "visitor", Text: "still there?", At: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Minute) // the login window is over
	if _, err := st.Login(ctx, "sam@example.com", "correct horse", "10.0.0.1"); err != nil {
		t.Fatalf("a minute later: %v", err)
	}

	// The next process.
	db.Close()
	db = open(t, dir, clk)
	st = handoff.NewStore(embedded.NewInbox(db), handoff.Options{Now: clk.Now, Retention: 48 * time.Hour})
	clk.Add(20 * time.Hour) // 50 h after the start, 20 h after busy's message
	if _, err := st.Conversation(ctx, "old"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a record past its retention: %v", err)
	}
	if c, err := st.Conversation(ctx, "busy"); err != nil || c.Last == nil || c.Last.Text != "still there?" {
		t.Fatalf("the record a message renewed: %+v, %v", c, err)
	}
	l, err := st.List(ctx, sam, handoff.FolderUnassigned, 10)
	if err != nil || len(l) != 1 || l[0].ID != "busy" {
		t.Fatalf("unassigned = %v, %v; want busy only", l, err)
	}
	if q, _ := st.Queued(ctx, "sales", 10); len(q) != 1 || q[0] != "busy" {
		t.Fatalf("the expired chat is still queued: %v", q)
	}
	if _, err := st.SessionByToken(ctx, sess.Token); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a sign-in 50 h old: %v (sign-ins last %v)", err, handoff.SessionTTL)
	}
	if n, err := db.Sweep(ctx); err != nil || n == 0 {
		t.Fatalf("the sweep deleted %d keys, %v", n, err)
	}
}

func BenchmarkInboxCycle(b *testing.B) {
	db, err := embedded.Open(b.TempDir(), embedded.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchInboxCycle(b, embedded.NewInbox(db))
}

func TestHandOffWork(t *testing.T) {
	storetest.HandOffWork(t, func(t *testing.T) (store.InboxEngine, store.Timers) {
		db, err := embedded.Open(t.TempDir(), embedded.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return embedded.NewInbox(db), embedded.NewTimers(db)
	})
}
