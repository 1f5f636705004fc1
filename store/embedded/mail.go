package embedded

import (
	"context"
	"encoding/json"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// MailQuota counts visitors' transcript mails in a DB (store.MailQuota):
// K("ml", conv) -> {to, n} and K("mlp", period) -> count, both expiring.
type MailQuota struct{ db *DB }

var _ store.MailQuota = (*MailQuota)(nil)

// NewMailQuota returns the mail counts of db.
func NewMailQuota(db *DB) *MailQuota { return &MailQuota{db: db} }

type mailCount struct {
	To string `json:"to"`
	N  int    `json:"n"`
}

// ClaimMail implements store.MailQuota.
func (q *MailQuota) ClaimMail(ctx context.Context, conv, addr string, max int, keep time.Duration) (string, error) {
	res := "ok"
	err := q.db.Update(ctx, func(tx *Tx) error {
		var m mailCount
		if v, ok, err := tx.Get(K("ml", conv)); err != nil {
			return err
		} else if ok {
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
		}
		switch {
		case m.To != "" && m.To != addr:
			res = "other"
			return nil
		case m.N >= max:
			res = "many"
			return nil
		}
		m.To, m.N = addr, m.N+1
		b, _ := json.Marshal(m)
		return tx.PutTTL(K("ml", conv), b, keep)
	})
	return res, err
}

// ReleaseMail implements store.MailQuota.
func (q *MailQuota) ReleaseMail(ctx context.Context, conv string) error {
	return q.db.Update(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("ml", conv))
		if err != nil || !ok {
			return err
		}
		var m mailCount
		if err := json.Unmarshal(v, &m); err != nil {
			return err
		}
		m.N--
		at, _, err := tx.ExpiresAt(K("ml", conv))
		if err != nil {
			return err
		}
		b, _ := json.Marshal(m)
		return tx.PutExpiring(K("ml", conv), b, at)
	})
}

// CountMail implements store.MailQuota.
func (q *MailQuota) CountMail(ctx context.Context, period string, keep time.Duration) (int64, error) {
	var n int64
	err := q.db.Update(ctx, func(tx *Tx) error {
		var err error
		if n, err = tx.Incr(K("mlp", period), 1); err != nil {
			return err
		}
		if n == 1 {
			_, err = tx.Expire(K("mlp", period), tx.Now().Add(keep))
		}
		return err
	})
	return n, err
}
