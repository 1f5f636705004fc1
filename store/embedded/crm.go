package embedded

import (
	"context"
	"strconv"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// CRM is the CRM's records and the webhook outbox on a DB (store.CRM and
// store.Outbox). A change is one transaction, so it is all or nothing and
// never has a pending record. Key spaces:
//
//	"crr"  records: K("crr", id) -> JSON
//	"cri"  index entries: K("cri", name) -> record id
//	"crk"  idempotency keys: K("crk", key) -> done value (expiring)
//	"crl"  lists: K("crl", kind, ms, id)
//	"crc"  conversations' memory: K("crc", conv, field) -> value
//	"crs"  conversations' results: K("crs", conv, score, id)
//	"crf"  feeds: K("crf", owner, member) -> ms; K("crfs", owner, ms, member)
//	"crh"  chat items: K("crh", conv) -> JSON
//	"cra"  archived transcripts: K("cra", conv)
//	"crn"  counters: K("crn", name)
//	"ob.." the outbox (outbox.go)
type CRM struct {
	db *DB
	ob *outbox
}

var (
	_ store.CRM    = (*CRM)(nil)
	_ store.Outbox = (*CRM)(nil)
)

// NewCRM returns the CRM of db.
func NewCRM(db *DB) *CRM { return &CRM{db: db, ob: newOutbox()} }

// Records implements store.CRM.
func (c *CRM) Records(ctx context.Context, ids ...string) ([]string, error) {
	out := make([]string, len(ids))
	err := c.db.View(ctx, func(tx *Tx) error {
		for i, id := range ids {
			if id == "" {
				continue
			}
			v, _, err := tx.Get(K("crr", id))
			if err != nil {
				return err
			}
			out[i] = string(v)
		}
		return nil
	})
	return out, err
}

// Lookup implements store.CRM.
func (c *CRM) Lookup(ctx context.Context, index string) (string, error) {
	return c.get(ctx, K("cri", index))
}

func (c *CRM) get(ctx context.Context, k []byte) (string, error) {
	var out string
	err := c.db.View(ctx, func(tx *Tx) error {
		v, _, err := tx.Get(k)
		out = string(v)
		return err
	})
	return out, err
}

// Intent implements store.CRM.
func (c *CRM) Intent(ctx context.Context, key string) (string, error) {
	return c.get(ctx, K("crk", key))
}

// Apply implements store.CRM, in one transaction.
func (c *CRM) Apply(ctx context.Context, ch *store.CRMChange) (string, error) {
	var dup string
	err := c.db.Update(ctx, func(tx *Tx) error {
		// Each key read here is written below over the record read (one
		// lookup, not a second one to replace it).
		var keyRec []byte // the idempotency key's record (expired or nil)
		if ch.Key != "" {
			rec, err := tx.t.get(K("crk", ch.Key))
			if err != nil {
				return err
			}
			if v, _, ok := tx.live(rec); ok {
				dup = string(v)
				return nil
			}
			keyRec = rec
		}
		type write struct {
			k   []byte
			v   string
			rec []byte // the stored record read (nil: none)
		}
		var writes []write
		check := func(k []byte, x store.CAS) error {
			rec, err := tx.t.get(k)
			if err != nil {
				return err
			}
			cur, _, _ := tx.live(rec)
			if string(cur) != x.Old && string(cur) != x.New {
				return store.ErrStale
			}
			writes = append(writes, write{k, x.New, rec})
			return nil
		}
		for _, x := range ch.Records {
			if err := check(K("crr", x.Name), x); err != nil {
				return err
			}
		}
		for _, x := range ch.Indexes {
			if err := check(K("cri", x.Name), x); err != nil {
				return err
			}
		}
		for _, w := range writes {
			var err error
			switch {
			case w.v != "":
				err = tx.putExpiringOver(w.k, []byte(w.v), time.Time{}, w.rec)
			case w.rec != nil:
				err = tx.deleteOld(w.k, w.rec)
			}
			if err != nil {
				return err
			}
		}
		for _, l := range ch.Listed {
			if err := tx.Put(K("crl", l.Kind, l.Ms, l.ID), nil); err != nil {
				return err
			}
		}
		for _, f := range ch.Conv {
			if err := tx.Put(K("crc", f.Conv, f.Field), []byte(f.Value)); err != nil {
				return err
			}
		}
		for _, r := range ch.Results {
			if err := tx.Put(K("crs", r.Conv, r.Score, r.ID), nil); err != nil {
				return err
			}
		}
		for _, f := range ch.Feeds {
			if err := feedAdd(tx, f); err != nil {
				return err
			}
		}
		for _, x := range ch.Chats {
			if err := tx.Put(K("crh", x.Conv), []byte(x.JSON)); err != nil {
				return err
			}
		}
		for _, ev := range ch.Events {
			if _, err := c.emitOnce(tx, ev, eventMarkKeep); err != nil {
				return err
			}
		}
		if ch.Key != "" {
			ttl := ch.KeyTTL
			if ttl <= 0 {
				ttl = defaultKeyTTL
			}
			return tx.putExpiringOver(K("crk", ch.Key), []byte(ch.Done), tx.now.Add(ttl), keyRec)
		}
		return nil
	})
	if err == nil && len(ch.Events) > 0 && dup == "" {
		c.ob.wake()
	}
	return dup, err
}

func feedAdd(tx *Tx, f store.FeedAdd) error {
	mk := K("crf", f.Owner, f.Member)
	rec, err := tx.t.get(mk)
	if err != nil {
		return err
	}
	if old, _, ok := tx.live(rec); ok {
		if f.NX {
			return nil
		}
		ms, _ := strconv.ParseInt(string(old), 10, 64)
		if err := tx.Delete(K("crfs", f.Owner, ms, f.Member)); err != nil {
			return err
		}
	}
	if err := tx.putExpiringOver(mk, []byte(strconv.FormatInt(f.Ms, 10)), time.Time{}, rec); err != nil {
		return err
	}
	return tx.Put(K("crfs", f.Owner, f.Ms, f.Member), nil)
}

// Conversation implements store.CRM.
func (c *CRM) Conversation(ctx context.Context, conv string, indexes ...string) (map[string]string, []string, error) {
	m := map[string]string{}
	ids := make([]string, len(indexes))
	err := c.db.View(ctx, func(tx *Tx) error {
		if conv != "" {
			err := tx.Scan(K("crc", conv), func(k, v []byte) (bool, error) {
				parts, err := SplitKey(k)
				if err != nil || len(parts) != 3 {
					return false, errBadKey
				}
				m[parts[2].(string)] = string(v)
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		for i, name := range indexes {
			v, _, err := tx.Get(K("cri", name))
			if err != nil {
				return err
			}
			ids[i] = string(v)
		}
		return nil
	})
	return m, ids, err
}

// lastPart returns the last part of a key as a string.
func lastPart(k []byte) (string, error) {
	parts, err := SplitKey(k)
	if err != nil || len(parts) == 0 {
		return "", errBadKey
	}
	s, ok := parts[len(parts)-1].(string)
	if !ok {
		return "", errBadKey
	}
	return s, nil
}

// Results implements store.CRM.
func (c *CRM) Results(ctx context.Context, conv string, limit int) ([]string, error) {
	var out []string
	err := c.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("crs", conv), func(k, _ []byte) (bool, error) {
			id, err := lastPart(k)
			if err != nil {
				return false, err
			}
			out = append(out, id)
			return len(out) < limit, nil
		})
	})
	return out, err
}

// List implements store.CRM.
func (c *CRM) List(ctx context.Context, kind string, beforeMs int64, offset, count int) ([]string, error) {
	var out []string
	prefix := K("crl", kind)
	end := PrefixEnd(prefix)
	if beforeMs != 0 {
		end = K("crl", kind, beforeMs)
	}
	skip := offset
	err := c.db.View(ctx, func(tx *Tx) error {
		return tx.ScanRange(prefix, end, true, func(k, _ []byte) (bool, error) {
			if skip > 0 {
				skip--
				return true, nil
			}
			id, err := lastPart(k)
			if err != nil {
				return false, err
			}
			out = append(out, id)
			return len(out) < count, nil
		})
	})
	return out, err
}

// Count implements store.CRM.
func (c *CRM) Count(ctx context.Context, kind string) (int64, error) {
	var n int
	err := c.db.View(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.Count(K("crl", kind))
		return err
	})
	return int64(n), err
}

// Feed implements store.CRM.
func (c *CRM) Feed(ctx context.Context, id string, limit int) ([]store.Scored, error) {
	var out []store.Scored
	err := c.db.View(ctx, func(tx *Tx) error {
		prefix := K("crfs", id)
		return tx.ScanRange(prefix, PrefixEnd(prefix), true, func(k, _ []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 4 {
				return false, errBadKey
			}
			out = append(out, store.Scored{Member: parts[3].(string), Score: float64(parts[2].(int64))})
			return len(out) < limit, nil
		})
	})
	return out, err
}

// Chats implements store.CRM.
func (c *CRM) Chats(ctx context.Context, convs ...string) ([]string, error) {
	out := make([]string, len(convs))
	err := c.db.View(ctx, func(tx *Tx) error {
		for i, conv := range convs {
			v, _, err := tx.Get(K("crh", conv))
			if err != nil {
				return err
			}
			out[i] = string(v)
		}
		return nil
	})
	return out, err
}

// Next implements store.CRM.
func (c *CRM) Next(ctx context.Context, counter string) (int64, error) {
	var n int64
	err := c.db.Update(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.Incr(K("crn", counter), 1)
		return err
	})
	return n, err
}

// PutArchive implements store.CRM.
func (c *CRM) PutArchive(ctx context.Context, conv string, b []byte) error {
	return c.db.Update(ctx, func(tx *Tx) error { return tx.Put(K("cra", conv), b) })
}

// Archive implements store.CRM.
func (c *CRM) Archive(ctx context.Context, conv string) ([]byte, error) {
	var out []byte
	err := c.db.View(ctx, func(tx *Tx) error {
		v, ok, err := tx.Get(K("cra", conv))
		if ok {
			out = v
			if out == nil {
				out = []byte{}
			}
		}
		return err
	})
	return out, err
}
