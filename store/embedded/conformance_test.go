package embedded_test

import (
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/storetest"
)

// newDB opens a DB in a fresh directory on a clock the test moves.
func newDB(t *testing.T) (*embedded.DB, *clock) {
	c := &clock{t: time.Now()}
	return open(t, t.TempDir(), c), c
}

func TestSessions(t *testing.T) {
	storetest.Sessions(t, func(t *testing.T) storetest.SessionsEnv {
		db, c := newDB(t)
		return storetest.SessionsEnv{
			Open: func(o store.SessionOptions) storetest.SessionStore { return embedded.NewSessions(db, o) },
			Bus:  func() store.Bus { return db.Bus() },
			Advance: func(d time.Duration) {
				c.Add(d)
				if _, err := db.Sweep(t.Context()); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

func TestTimers(t *testing.T) {
	storetest.Timers(t, func(t *testing.T) func() store.Timers {
		db, _ := newDB(t)
		return func() store.Timers { return embedded.NewTimers(db) }
	})
}

func TestPrograms(t *testing.T) {
	storetest.Programs(t, func(t *testing.T) func() store.Programs {
		db, _ := newDB(t)
		return func() store.Programs { return embedded.NewPrograms(db, time.Hour) }
	})
}

func TestBus(t *testing.T) {
	storetest.Bus(t, func(t *testing.T) func() store.Bus {
		db, _ := newDB(t)
		return func() store.Bus { return db.Bus() }
	})
}

func TestSecrets(t *testing.T) {
	storetest.Secrets(t, func(t *testing.T) func() store.Secrets {
		db, _ := newDB(t)
		return func() store.Secrets { return embedded.NewSecrets(db) }
	})
}

func TestLeases(t *testing.T) {
	storetest.Leases(t, func(t *testing.T) storetest.LeasesEnv {
		db, c := newDB(t)
		return storetest.LeasesEnv{Open: func() store.Leases { return embedded.NewLeases(db) }, Advance: c.Add}
	})
}
