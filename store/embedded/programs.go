package embedded

import (
	"context"
	"encoding/json"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Programs keeps playbook versions by content hash (store.Programs) at
// K("prog", hash), as JSON (file name to source), expiring ttl after
// their last Save or Keep.
type Programs struct {
	db  *DB
	ttl time.Duration
}

var _ store.Programs = (*Programs)(nil)

// NewPrograms returns the version store of db; versions live ttl (default
// store.DefaultTTL) after their last Save or Keep.
func NewPrograms(db *DB, ttl time.Duration) *Programs {
	if ttl <= 0 {
		ttl = store.DefaultTTL
	}
	return &Programs{db: db, ttl: ttl}
}

// Save stores the files of version hash.
func (p *Programs) Save(ctx context.Context, hash string, files map[string][]byte) error {
	data, err := json.Marshal(files)
	if err != nil {
		return err
	}
	return p.db.Update(ctx, func(tx *Tx) error { return tx.PutTTL(K("prog", hash), data, p.ttl) })
}

// Keep renews version hash for another TTL.
func (p *Programs) Keep(ctx context.Context, hash string) error {
	return p.db.Update(ctx, func(tx *Tx) error {
		_, err := tx.Expire(K("prog", hash), tx.Now().Add(p.ttl))
		return err
	})
}

// Load returns the files of version hash.
func (p *Programs) Load(ctx context.Context, hash string) (map[string][]byte, error) {
	var data []byte
	var ok bool
	err := p.db.View(ctx, func(tx *Tx) error {
		var err error
		data, ok, err = tx.Get(K("prog", hash))
		return err
	})
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, store.ErrNoVersion
	}
	var files map[string][]byte
	if err := json.Unmarshal(data, &files); err != nil {
		return nil, err
	}
	return files, nil
}
