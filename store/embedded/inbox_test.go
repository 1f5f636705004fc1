package embedded_test

import (
	"testing"

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
