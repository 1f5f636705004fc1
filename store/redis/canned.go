package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Keys: one hash of canned responses by id, one index of ids by their
// UniqueKey. Both carry the {canned} hash tag: every script below touches
// one slot.
func (s *Inbox) cannedKey() string      { return s.p + "{canned}:items" }
func (s *Inbox) cannedIndexKey() string { return s.p + "{canned}:index" }
func (s *Inbox) legacyCannedKey() string {
	return s.p + "canned" // short -> text, from before canned responses had owners
}

var createCanned = newScript(`
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return 'exists' end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 'ok'
`)

// CreateCanned implements store.CannedResponses.
func (s *Inbox) CreateCanned(ctx context.Context, c store.Canned) error {
	if err := s.migrateCanned(ctx); err != nil {
		return err
	}
	b, _ := json.Marshal(c)
	res, err := createCanned.Run(ctx, s.rdb, []string{s.cannedKey(), s.cannedIndexKey()}, c.UniqueKey(), c.ID, string(b)).Text()
	if err != nil {
		return err
	}
	if res == "exists" {
		return store.ErrInboxExists
	}
	return nil
}

// CannedList implements store.CannedResponses.
func (s *Inbox) CannedList(ctx context.Context) ([]*store.Canned, error) {
	if err := s.migrateCanned(ctx); err != nil {
		return nil, err
	}
	m, err := s.rdb.HGetAll(ctx, s.cannedKey()).Result()
	if err != nil {
		return nil, err
	}
	out := make([]*store.Canned, 0, len(m))
	for _, v := range m {
		c := &store.Canned{}
		if json.Unmarshal([]byte(v), c) == nil {
			out = append(out, c)
		}
	}
	return out, nil
}

// Canned implements store.CannedResponses.
func (s *Inbox) Canned(ctx context.Context, id string) (*store.Canned, error) {
	c, _, err := s.cannedByID(ctx, id)
	return c, err
}

func (s *Inbox) cannedByID(ctx context.Context, id string) (*store.Canned, string, error) {
	if err := s.migrateCanned(ctx); err != nil {
		return nil, "", err
	}
	v, err := s.rdb.HGet(ctx, s.cannedKey(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, "", store.ErrInboxNotFound
	}
	if err != nil {
		return nil, "", err
	}
	c := &store.Canned{}
	if err := json.Unmarshal([]byte(v), c); err != nil {
		return nil, "", fmt.Errorf("canned response %s: %w", id, err)
	}
	return c, v, nil
}

var updateCanned = newScript(`
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 'missing' end
if cur ~= ARGV[2] then return 'stale' end
if ARGV[3] ~= ARGV[4] then
  if redis.call('HEXISTS', KEYS[2], ARGV[4]) == 1 then return 'exists' end
  if redis.call('HGET', KEYS[2], ARGV[3]) == ARGV[1] then redis.call('HDEL', KEYS[2], ARGV[3]) end
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[1])
end
if ARGV[5] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('HDEL', KEYS[2], ARGV[4])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[5])
end
return 'ok'
`)

// ChangeCanned implements store.CannedResponses: change runs on what was
// read, and the result is stored only if nobody changed it meanwhile
// (else it reads again and retries).
func (s *Inbox) ChangeCanned(ctx context.Context, id string, change func(*store.Canned) error) (*store.Canned, error) {
	for try := 0; try < 10; try++ {
		c, raw, err := s.cannedByID(ctx, id)
		if err != nil {
			return nil, err
		}
		oldField, newJSON := c.UniqueKey(), ""
		if change != nil {
			if err := change(c); err != nil {
				return nil, err
			}
			b, _ := json.Marshal(c)
			newJSON = string(b)
		}
		res, err := updateCanned.Run(ctx, s.rdb, []string{s.cannedKey(), s.cannedIndexKey()}, id, raw, oldField, c.UniqueKey(), newJSON).Text()
		if err != nil {
			return nil, err
		}
		switch res {
		case "missing":
			return nil, store.ErrInboxNotFound
		case "exists":
			return nil, store.ErrInboxExists
		case "ok":
			return c, nil
		}
	}
	return nil, fmt.Errorf("%w: the canned response kept changing", store.ErrTaken)
}

var migrateCanned = newScript(`
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[2])
return 'ok'
`)

// migrateCanned moves the canned responses of the old global list (short
// name -> text) into the shared scope: every agent reads them, admins edit
// them. Ids are derived from the short name, so processes migrating at
// once write the same records.
func (s *Inbox) migrateCanned(ctx context.Context) error {
	old, err := s.rdb.HGetAll(ctx, s.legacyCannedKey()).Result()
	if err != nil || len(old) == 0 {
		return err
	}
	for short, text := range old {
		h := sha256.Sum256([]byte(short))
		c := store.Canned{ID: "cr_" + hex.EncodeToString(h[:8]), Short: short, Text: text, Scope: store.CannedShared, UpdatedAt: s.now().UTC()}
		b, _ := json.Marshal(c)
		if err := migrateCanned.Run(ctx, s.rdb, []string{s.cannedKey(), s.cannedIndexKey()}, c.UniqueKey(), c.ID, string(b)).Err(); err != nil {
			return err
		}
		if err := s.rdb.HDel(ctx, s.legacyCannedKey(), short).Err(); err != nil {
			return err
		}
	}
	return nil
}
