package embedded

import (
	"context"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Engine is the embedded engine's store.Engine: every domain on one DB.
type Engine struct{ db *DB }

var _ store.Engine = (*Engine)(nil)

// NewEngine returns the engine of db.
func NewEngine(db *DB) *Engine { return &Engine{db: db} }

// DB is the engine's DB.
func (e *Engine) DB() *DB { return e.db }

func (e *Engine) Sessions(opts store.SessionOptions) store.SessionStore {
	return NewSessions(e.db, opts)
}
func (e *Engine) Timers() store.Timers                      { return NewTimers(e.db) }
func (e *Engine) Programs(ttl time.Duration) store.Programs { return NewPrograms(e.db, ttl) }
func (e *Engine) Bus() store.Bus                            { return e.db.Bus() }
func (e *Engine) Secrets() store.Secrets                    { return NewSecrets(e.db) }
func (e *Engine) Inbox() store.InboxEngine                  { return NewInbox(e.db) }
func (e *Engine) CRM() store.CRMEngine                      { return NewCRM(e.db) }
func (e *Engine) Mail() store.MailQuota                     { return NewMailQuota(e.db) }
func (e *Engine) Funnels() store.Funnels                    { return NewFunnels(e.db) }
func (e *Engine) Leases() store.Leases                      { return NewLeases(e.db) }

// Ping reads from the DB.
func (e *Engine) Ping(ctx context.Context) error {
	return e.db.View(ctx, func(tx *Tx) error { _, err := tx.Has(K("ping")); return err })
}
