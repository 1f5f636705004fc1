package embedded

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// The outbox has one shard. Key spaces:
//
//	"obe"  events not yet fanned out: K("obe", seq) -> event JSON
//	"obm"  event ids added once: K("obm", id) (expiring)
//	"obs"  subscriptions: K("obs", id) -> JSON
//	"obd"  deliveries: K("obd", id) -> store.DeliveryState JSON
//	"obv"  event bodies: K("obv", event) -> body; K("obvc", event) -> count
//	"obq"  due: K("obq", ms, id); K("obqi", id) -> ms
//	"obl"  leases: K("obl", id) -> token
//	"obx"  dead letters: K("obx", ms, id); K("obxi", id) -> ms
//
// The consumer group lives in memory: one process owns the DB, and an
// event read but not fanned out before a restart is simply read again.

const (
	eventMarkKeep = 7 * 24 * time.Hour
	defaultKeyTTL = 30 * 24 * time.Hour
)

// outbox is the in-process part of the outbox: who read which event, and
// a wake-up for readers waiting for one.
type outbox struct {
	mu     sync.Mutex
	read   map[string]reader // entry ref → its reader
	wakeCh chan struct{}
}

type reader struct {
	consumer string
	at       time.Time
}

func newOutbox() *outbox {
	return &outbox{read: map[string]reader{}, wakeCh: make(chan struct{})}
}

// wake tells every waiting reader that events were added.
func (o *outbox) wake() {
	o.mu.Lock()
	close(o.wakeCh)
	o.wakeCh = make(chan struct{})
	o.mu.Unlock()
}

type storedEvent struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Body string `json:"body"`
}

func (c *CRM) emitOnce(tx *Tx, ev store.OutboxEvent, keep time.Duration) (bool, error) {
	if ok, err := tx.Has(K("obm", ev.ID)); err != nil || ok {
		return false, err
	}
	if err := tx.PutTTL(K("obm", ev.ID), nil, keep); err != nil {
		return false, err
	}
	return true, c.add(tx, ev)
}

func (c *CRM) add(tx *Tx, ev store.OutboxEvent) error {
	seq, err := tx.Incr(K("obseq"), 1)
	if err != nil {
		return err
	}
	b, err := json.Marshal(storedEvent{ID: ev.ID, Type: ev.Type, Body: ev.Body})
	if err != nil {
		return err
	}
	return tx.Put(K("obe", seq), b)
}

// Emit implements store.Outbox.
func (c *CRM) Emit(ctx context.Context, ev store.OutboxEvent) error {
	err := c.db.Update(ctx, func(tx *Tx) error { return c.add(tx, ev) })
	if err == nil {
		c.ob.wake()
	}
	return err
}

// EmitOnce implements store.Outbox.
func (c *CRM) EmitOnce(ctx context.Context, ev store.OutboxEvent, keep time.Duration) (bool, error) {
	var added bool
	err := c.db.Update(ctx, func(tx *Tx) error {
		var err error
		added, err = c.emitOnce(tx, ev, keep)
		return err
	})
	if err == nil && added {
		c.ob.wake()
	}
	return added, err
}

// PutSubscription implements store.Outbox.
func (c *CRM) PutSubscription(ctx context.Context, id, json string) error {
	return c.db.Update(ctx, func(tx *Tx) error { return tx.Put(K("obs", id), []byte(json)) })
}

// DeleteSubscription implements store.Outbox.
func (c *CRM) DeleteSubscription(ctx context.Context, id string) (bool, error) {
	var found bool
	err := c.db.Update(ctx, func(tx *Tx) error {
		var err error
		if found, err = tx.Has(K("obs", id)); err != nil || !found {
			return err
		}
		return tx.Delete(K("obs", id))
	})
	return found, err
}

// Subscriptions implements store.Outbox.
func (c *CRM) Subscriptions(ctx context.Context) ([]string, error) {
	var out []string
	err := c.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("obs"), func(_, v []byte) (bool, error) {
			out = append(out, string(v))
			return true, nil
		})
	})
	return out, err
}

// Subscription implements store.Outbox.
func (c *CRM) Subscription(ctx context.Context, id string) (string, error) {
	return c.get(ctx, K("obs", id))
}

// Shards implements store.Outbox: one.
func (c *CRM) Shards() int { return 1 }

// entries returns stored events (up to count) that pass keep, in order.
func (c *CRM) entries(ctx context.Context, count int, keep func(ref string) bool) ([]store.OutboxEntry, error) {
	var out []store.OutboxEntry
	err := c.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("obe"), func(k, v []byte) (bool, error) {
			parts, err := SplitKey(k)
			if err != nil || len(parts) != 2 {
				return false, errBadKey
			}
			ref := strconv.FormatInt(parts[1].(int64), 10)
			if !keep(ref) {
				return true, nil
			}
			var ev storedEvent
			_ = json.Unmarshal(v, &ev) // a malformed one comes with no id
			out = append(out, store.OutboxEntry{Ref: ref, Event: store.OutboxEvent{ID: ev.ID, Type: ev.Type, Body: ev.Body}})
			return len(out) < count, nil
		})
	})
	return out, err
}

// Read implements store.Outbox.
func (c *CRM) Read(ctx context.Context, shard int, consumer string, count int, block time.Duration) ([]store.OutboxEntry, error) {
	var timer <-chan time.Time
	for {
		c.ob.mu.Lock()
		wake := c.ob.wakeCh
		c.ob.mu.Unlock()
		now := c.db.Now()
		var out []store.OutboxEntry
		es, err := c.entries(ctx, 1<<30, func(ref string) bool {
			c.ob.mu.Lock()
			defer c.ob.mu.Unlock()
			if _, taken := c.ob.read[ref]; taken || len(out) >= count {
				return false
			}
			c.ob.read[ref] = reader{consumer, now}
			out = append(out, store.OutboxEntry{Ref: ref})
			return true
		})
		if err != nil || len(es) > 0 || block <= 0 {
			return es, err
		}
		if timer == nil {
			t := time.NewTimer(block)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer:
			return nil, nil
		case <-wake:
		}
	}
}

// TakeOver implements store.Outbox: events read more than minIdle ago and
// not fanned out since.
func (c *CRM) TakeOver(ctx context.Context, shard int, consumer string, minIdle time.Duration, count int) ([]store.OutboxEntry, error) {
	now := c.db.Now()
	n := 0
	return c.entries(ctx, count, func(ref string) bool {
		c.ob.mu.Lock()
		defer c.ob.mu.Unlock()
		r, ok := c.ob.read[ref]
		if !ok || now.Sub(r.at) < minIdle || n >= count {
			return false
		}
		c.ob.read[ref] = reader{consumer, now}
		n++
		return true
	})
}

func getDelivery(tx *Tx, id string) (*store.DeliveryState, error) {
	v, ok, err := tx.Get(K("obd", id))
	if err != nil || !ok {
		return nil, err
	}
	var d store.DeliveryState
	return &d, json.Unmarshal(v, &d)
}

func putDelivery(tx *Tx, id string, d *store.DeliveryState, ttl time.Duration) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	if ttl > 0 {
		return tx.PutTTL(K("obd", id), b, ttl)
	}
	return tx.Put(K("obd", id), b)
}

func msOf(v []byte) int64 { n, _ := strconv.ParseInt(string(v), 10, 64); return n }

func setDue(tx *Tx, id string, ms int64) error {
	if err := removeDue(tx, id); err != nil {
		return err
	}
	if err := tx.Put(K("obq", ms, id), nil); err != nil {
		return err
	}
	return tx.Put(K("obqi", id), []byte(strconv.FormatInt(ms, 10)))
}

func removeDue(tx *Tx, id string) error {
	old, ok, err := tx.Get(K("obqi", id))
	if err != nil || !ok {
		return err
	}
	if err := tx.Delete(K("obq", msOf(old), id)); err != nil {
		return err
	}
	return tx.Delete(K("obqi", id))
}

// FanOut implements store.Outbox.
func (c *CRM) FanOut(ctx context.Context, e store.OutboxEntry, subs []string, nowMs, leaseMs int64, token string) ([]string, error) {
	seq, err := strconv.ParseInt(e.Ref, 10, 64)
	if err != nil {
		return nil, err
	}
	ev := e.Event.ID
	if ev == "" {
		subs = nil
	}
	var claimed []string
	err = c.db.Update(ctx, func(tx *Tx) error {
		for _, sub := range subs {
			id := ev + ":" + sub
			if ok, err := tx.Has(K("obd", id)); err != nil {
				return err
			} else if ok {
				continue
			}
			d := &store.DeliveryState{Event: ev, Type: e.Event.Type, Sub: sub, State: "pending", FirstMs: nowMs}
			if err := putDelivery(tx, id, d, 0); err != nil {
				return err
			}
			if _, err := tx.Incr(K("obvc", ev), 1); err != nil {
				return err
			}
			if err := setDue(tx, id, leaseMs); err != nil {
				return err
			}
			if err := tx.Put(K("obl", id), []byte(token)); err != nil {
				return err
			}
			claimed = append(claimed, id)
		}
		if len(subs) > 0 {
			if ok, err := tx.Has(K("obv", ev)); err != nil {
				return err
			} else if !ok {
				if err := tx.Put(K("obv", ev), []byte(e.Event.Body)); err != nil {
					return err
				}
			}
		}
		return tx.Delete(K("obe", seq))
	})
	if err == nil {
		c.ob.mu.Lock()
		delete(c.ob.read, e.Ref)
		c.ob.mu.Unlock()
	}
	return claimed, err
}

// ClaimDue implements store.Outbox.
func (c *CRM) ClaimDue(ctx context.Context, shard int, nowMs, leaseMs int64, n int, token string) ([]string, error) {
	var ids []string
	err := c.db.Update(ctx, func(tx *Tx) error {
		ids = ids[:0]
		err := tx.ScanRange(K("obq"), K("obq", nowMs+1), false, func(k, _ []byte) (bool, error) {
			id, err := lastPart(k)
			if err != nil {
				return false, err
			}
			ids = append(ids, id)
			return len(ids) < n, nil
		})
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := setDue(tx, id, leaseMs); err != nil {
				return err
			}
			if err := tx.Put(K("obl", id), []byte(token)); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

func holds(tx *Tx, id, token string) (bool, error) {
	v, ok, err := tx.Get(K("obl", id))
	return ok && string(v) == token, err
}

// Renew implements store.Outbox.
func (c *CRM) Renew(ctx context.Context, id, token string, leaseMs int64) (bool, error) {
	var ok bool
	err := c.db.Update(ctx, func(tx *Tx) error {
		var err error
		if ok, err = holds(tx, id, token); err != nil || !ok {
			return err
		}
		return setDue(tx, id, leaseMs)
	})
	return ok, err
}

// Finish implements store.Outbox.
func (c *CRM) Finish(ctx context.Context, id, token string, f store.Finish) (bool, error) {
	var ok bool
	err := c.db.Update(ctx, func(tx *Tx) error {
		var err error
		if ok, err = holds(tx, id, token); err != nil || !ok {
			return err
		}
		if err := tx.Delete(K("obl", id)); err != nil {
			return err
		}
		d, err := getDelivery(tx, id)
		if err != nil {
			return err
		}
		if d == nil {
			return removeDue(tx, id)
		}
		if f.Attempted {
			d.Attempts++
			d.LastMs, d.LastStatus, d.LastError = f.NowMs, f.Status, f.Error
		}
		var ttl time.Duration
		switch f.Outcome {
		case "done", "cancelled":
			if err := removeDue(tx, id); err != nil {
				return err
			}
			d.State, ttl = f.Outcome, f.Keep
			n, err := tx.Incr(K("obvc", d.Event), -1)
			if err != nil {
				return err
			}
			if n <= 0 {
				if _, err := tx.Expire(K("obv", d.Event), tx.Now().Add(f.Keep)); err != nil {
					return err
				}
				if _, err := tx.Expire(K("obvc", d.Event), tx.Now().Add(f.Keep)); err != nil {
					return err
				}
			}
		case "retry":
			if err := setDue(tx, id, f.NextMs); err != nil {
				return err
			}
		case "dead":
			if err := removeDue(tx, id); err != nil {
				return err
			}
			d.State = "dead"
			if err := tx.Put(K("obx", f.NowMs, id), nil); err != nil {
				return err
			}
			if err := tx.Put(K("obxi", id), []byte(strconv.FormatInt(f.NowMs, 10))); err != nil {
				return err
			}
		}
		return putDelivery(tx, id, d, ttl)
	})
	return ok, err
}

// Delivery implements store.Outbox.
func (c *CRM) Delivery(ctx context.Context, id string) (*store.DeliveryState, error) {
	var d *store.DeliveryState
	err := c.db.View(ctx, func(tx *Tx) error {
		var err error
		d, err = getDelivery(tx, id)
		return err
	})
	return d, err
}

// EventBody implements store.Outbox.
func (c *CRM) EventBody(ctx context.Context, event string) (string, error) {
	return c.get(ctx, K("obv", event))
}

// Forget implements store.Outbox.
func (c *CRM) Forget(ctx context.Context, id string) error {
	return c.db.Update(ctx, func(tx *Tx) error {
		if err := removeDue(tx, id); err != nil {
			return err
		}
		return tx.Delete(K("obl", id))
	})
}

// Dead implements store.Outbox.
func (c *CRM) Dead(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := c.db.View(ctx, func(tx *Tx) error {
		prefix := K("obx")
		return tx.ScanRange(prefix, PrefixEnd(prefix), true, func(k, _ []byte) (bool, error) {
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

// Replay implements store.Outbox.
func (c *CRM) Replay(ctx context.Context, id string, nowMs int64) (bool, error) {
	if !strings.Contains(id, ":") {
		return false, nil
	}
	var ok bool
	err := c.db.Update(ctx, func(tx *Tx) error {
		v, found, err := tx.Get(K("obxi", id))
		if err != nil || !found {
			return err
		}
		ok = true
		if err := tx.Delete(K("obx", msOf(v), id)); err != nil {
			return err
		}
		if err := tx.Delete(K("obxi", id)); err != nil {
			return err
		}
		d, err := getDelivery(tx, id)
		if err != nil {
			return err
		}
		if d != nil {
			d.State, d.FirstMs, d.Attempts = "pending", nowMs, 0
			if err := putDelivery(tx, id, d, 0); err != nil {
				return err
			}
		}
		return setDue(tx, id, nowMs)
	})
	return ok, err
}

// Due implements store.Outbox.
func (c *CRM) Due(ctx context.Context, limit int) ([]string, error) {
	var out []string
	err := c.db.View(ctx, func(tx *Tx) error {
		return tx.Scan(K("obq"), func(k, _ []byte) (bool, error) {
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

// Backlog implements store.Outbox.
func (c *CRM) Backlog(ctx context.Context) (int64, error) {
	var n int
	err := c.db.View(ctx, func(tx *Tx) error {
		var err error
		n, err = tx.Count(K("obe"))
		return err
	})
	return int64(n), err
}
