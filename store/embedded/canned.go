package embedded

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/playbook-dev/playbook/store"
)

func getCanned(tx *Tx, id string) (*store.Canned, error) {
	v, ok, err := tx.Get(K("hn", id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, store.ErrInboxNotFound
	}
	c := &store.Canned{}
	if err := json.Unmarshal(v, c); err != nil {
		return nil, fmt.Errorf("canned response %s: %w", id, err)
	}
	return c, nil
}

// CreateCanned implements store.CannedResponses.
func (s *Inbox) CreateCanned(ctx context.Context, c store.Canned) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx *Tx) error {
		if ok, err := tx.Has(K("hnu", c.UniqueKey())); err != nil || ok {
			if err == nil {
				err = store.ErrInboxExists
			}
			return err
		}
		if err := tx.Put(K("hn", c.ID), b); err != nil {
			return err
		}
		return tx.Put(K("hnu", c.UniqueKey()), []byte(c.ID))
	})
}

// CannedList implements store.CannedResponses.
func (s *Inbox) CannedList(ctx context.Context) ([]*store.Canned, error) {
	var out []*store.Canned
	err := s.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("hn"), func(k, v []byte) (bool, error) {
			c := &store.Canned{}
			if err := json.Unmarshal(v, c); err != nil {
				return false, fmt.Errorf("canned response %q: %w", k, err)
			}
			out = append(out, c)
			return true, nil
		})
	})
	return out, err
}

// Canned implements store.CannedResponses.
func (s *Inbox) Canned(ctx context.Context, id string) (*store.Canned, error) {
	var c *store.Canned
	err := s.db.View(ctx, func(tx *Tx) (err error) {
		c, err = getCanned(tx, id)
		return err
	})
	return c, err
}

// ChangeCanned implements store.CannedResponses in one transaction.
func (s *Inbox) ChangeCanned(ctx context.Context, id string, change func(*store.Canned) error) (*store.Canned, error) {
	var out *store.Canned
	err := s.db.Update(ctx, func(tx *Tx) error {
		c, err := getCanned(tx, id)
		if err != nil {
			return err
		}
		old := c.UniqueKey()
		if change == nil {
			if err := tx.Delete(K("hn", id)); err != nil {
				return err
			}
			return tx.Delete(K("hnu", old))
		}
		if err := change(c); err != nil {
			return err
		}
		if nk := c.UniqueKey(); nk != old {
			if ok, err := tx.Has(K("hnu", nk)); err != nil || ok {
				if err == nil {
					err = store.ErrInboxExists
				}
				return err
			}
			if err := tx.Delete(K("hnu", old)); err != nil {
				return err
			}
			if err := tx.Put(K("hnu", nk), []byte(id)); err != nil {
				return err
			}
		}
		b, err := json.Marshal(c)
		if err != nil {
			return err
		}
		out = c
		return tx.Put(K("hn", id), b)
	})
	return out, err
}
