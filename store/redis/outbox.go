package redis

import (
	"context"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// group is the consumer group of every outbox shard.
const group = "webhooks"

// shardOf is the shard of an event (and of its deliveries).
func (c *CRM) shardOf(event string) int {
	h := fnv.New32a()
	h.Write([]byte(event))
	return int(h.Sum32() % uint32(c.shards))
}

// deliveryShard is the shard of a delivery id "evt_...:sub_...".
func (c *CRM) deliveryShard(id string) int {
	ev, _, _ := strings.Cut(id, ":")
	return c.shardOf(ev)
}

func (c *CRM) ob(n int) string                 { return c.p + "{ob:" + strconv.Itoa(n) + "}:" }
func (c *CRM) streamKey(n int) string          { return c.ob(n) + "stream" }
func (c *CRM) dueKey(n int) string             { return c.ob(n) + "due" }
func (c *CRM) leaseKey(n int) string           { return c.ob(n) + "lease" }
func (c *CRM) deadKey(n int) string            { return c.ob(n) + "dead" }
func (c *CRM) markKey(n int, ev string) string { return c.ob(n) + "m:" + ev }
func (c *CRM) eventKey(n int, ev string) string {
	return c.ob(n) + "e:" + ev
}
func (c *CRM) deliveryKey(id string) string { return c.ob(c.deliveryShard(id)) + "d:" + id }

// emitOnceScript adds an event unless its mark is set.
// KEYS[1] the mark, KEYS[2] the stream; ARGV keep ms, type, body.
var emitOnceScript = newScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[4], 'type', ARGV[2], 'e', ARGV[3])
return 1
`)

// emitOnce calls emitOnceScript for ev on s with eval (a *goredis.Script's
// Eval, EvalSha or Run).
func (c *CRM) emitOnce(ctx context.Context, s goredis.Scripter, eval scriptCall, ev store.OutboxEvent, keep time.Duration) *goredis.Cmd {
	n := c.shardOf(ev.ID)
	return eval(emitOnceScript, ctx, s, []string{c.markKey(n, ev.ID), c.streamKey(n)}, keep.Milliseconds(), ev.Type, ev.Body, ev.ID)
}

// Emit implements store.Outbox.
func (c *CRM) Emit(ctx context.Context, ev store.OutboxEvent) error {
	return c.rdb.XAdd(ctx, &goredis.XAddArgs{Stream: c.streamKey(c.shardOf(ev.ID)), Values: []any{"id", ev.ID, "type", ev.Type, "e", ev.Body}}).Err()
}

// EmitOnce implements store.Outbox.
func (c *CRM) EmitOnce(ctx context.Context, ev store.OutboxEvent, keep time.Duration) (bool, error) {
	n, err := c.emitOnce(ctx, c.rdb, (*goredis.Script).Run, ev, keep).Int()
	return n == 1, err
}

// PutSubscription implements store.Outbox.
func (c *CRM) PutSubscription(ctx context.Context, id, json string) error {
	return c.rdb.HSet(ctx, c.subsKey(), id, json).Err()
}

// DeleteSubscription implements store.Outbox.
func (c *CRM) DeleteSubscription(ctx context.Context, id string) (bool, error) {
	n, err := c.rdb.HDel(ctx, c.subsKey(), id).Result()
	return n > 0, err
}

// Subscriptions implements store.Outbox.
func (c *CRM) Subscriptions(ctx context.Context) ([]string, error) {
	m, err := c.rdb.HGetAll(ctx, c.subsKey()).Result()
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out, nil
}

// Subscription implements store.Outbox.
func (c *CRM) Subscription(ctx context.Context, id string) (string, error) {
	v, err := c.rdb.HGet(ctx, c.subsKey(), id).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, err
}

// Shards implements store.Outbox.
func (c *CRM) Shards() int { return c.shards }

func (c *CRM) ensureGroup(ctx context.Context, n int) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.streamKey(n), group, "0").Err()
	if err != nil && strings.Contains(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

func entries(n int, msgs []goredis.XMessage) []store.OutboxEntry {
	out := make([]store.OutboxEntry, 0, len(msgs))
	for _, m := range msgs {
		typ, _ := m.Values["type"].(string)
		body, _ := m.Values["e"].(string)
		id, _ := m.Values["id"].(string)
		out = append(out, store.OutboxEntry{Shard: n, Ref: m.ID, Event: store.OutboxEvent{ID: id, Type: typ, Body: body}})
	}
	return out
}

// Read implements store.Outbox.
func (c *CRM) Read(ctx context.Context, shard int, consumer string, count int, block time.Duration) ([]store.OutboxEntry, error) {
	if block <= 0 {
		block = -1 // no BLOCK argument: 0 would wait forever
	}
	for try := 0; ; try++ {
		streams, err := c.rdb.XReadGroup(ctx, &goredis.XReadGroupArgs{
			Group: group, Consumer: consumer, Streams: []string{c.streamKey(shard), ">"}, Count: int64(count), Block: block,
		}).Result()
		if errors.Is(err, goredis.Nil) {
			return nil, nil
		}
		if err != nil && try == 0 && strings.Contains(err.Error(), "NOGROUP") {
			if err := c.ensureGroup(ctx, shard); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		var out []store.OutboxEntry
		for _, st := range streams {
			out = append(out, entries(shard, st.Messages)...)
		}
		return out, nil
	}
}

// TakeOver implements store.Outbox.
func (c *CRM) TakeOver(ctx context.Context, shard int, consumer string, minIdle time.Duration, count int) ([]store.OutboxEntry, error) {
	msgs, _, err := c.rdb.XAutoClaim(ctx, &goredis.XAutoClaimArgs{
		Stream: c.streamKey(shard), Group: group, Consumer: consumer, MinIdle: minIdle, Start: "0-0", Count: int64(count),
	}).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return nil, nil
		}
		return nil, err
	}
	return entries(shard, msgs), nil
}

// fanOutScript turns one outbox entry into deliveries; see FanOut.
//
//	KEYS[1] stream, KEYS[2] event hash, KEYS[3] due, KEYS[4] lease,
//	KEYS[5..] delivery hashes
//	ARGV: group, entry id, event id, type, body, now ms, lease ms, token,
//	  then one delivery id per delivery hash
var fanOutScript = newScript(`
local claimed = {}
local n = #KEYS - 4
for i = 1, n do
  local dk = KEYS[4 + i]
  local member = ARGV[8 + i]
  if redis.call('HSETNX', dk, 'state', 'pending') == 1 then
    local sub = string.sub(member, string.find(member, ':', 1, true) + 1)
    redis.call('HSET', dk, 'event', ARGV[3], 'sub', sub, 'type', ARGV[4], 'attempts', '0', 'first_at', ARGV[6])
    redis.call('HINCRBY', KEYS[2], 'pending', '1')
    redis.call('ZADD', KEYS[3], ARGV[7], member)
    redis.call('HSET', KEYS[4], member, ARGV[8])
    claimed[#claimed + 1] = member
  end
end
if n > 0 then
  redis.call('HSETNX', KEYS[2], 'body', ARGV[5])
  redis.call('HSETNX', KEYS[2], 'type', ARGV[4])
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
return claimed
`)

// FanOut implements store.Outbox. Deliveries live in the entry's shard
// (an event's shard is its id's, so Emit put it there).
func (c *CRM) FanOut(ctx context.Context, e store.OutboxEntry, subs []string, nowMs, leaseMs int64, token string) ([]string, error) {
	n := e.Shard
	ev := e.Event.ID
	if ev == "" || c.shardOf(ev) != n {
		subs = nil // malformed, or not ours to fan out here: drop it
		ev = "bad"
	}
	keys := []string{c.streamKey(n), c.eventKey(n, ev), c.dueKey(n), c.leaseKey(n)}
	args := []any{group, e.Ref, ev, e.Event.Type, e.Event.Body, nowMs, leaseMs, token}
	for _, sub := range subs {
		id := ev + ":" + sub
		keys = append(keys, c.deliveryKey(id))
		args = append(args, id)
	}
	return fanOutScript.Run(ctx, c.rdb, keys, args...).StringSlice()
}

// dueClaimScript leases up to ARGV[3] deliveries due at ARGV[1] to ARGV[4]
// until ARGV[2].
var dueClaimScript = newScript(`
local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', '0', ARGV[3])
for _, m in ipairs(ms) do
  redis.call('ZADD', KEYS[1], ARGV[2], m)
  redis.call('HSET', KEYS[2], m, ARGV[4])
end
return ms
`)

// ClaimDue implements store.Outbox. Every process polls every shard
// twice a second, mostly with nothing due: it looks first (anyDue) and
// runs dueClaimScript only when something is due.
func (c *CRM) ClaimDue(ctx context.Context, shard int, nowMs, leaseMs int64, n int, token string) ([]string, error) {
	if due, err := anyDue(ctx, c.rdb, c.dueKey(shard), nowMs); !due || err != nil {
		return nil, err
	}
	return dueClaimScript.Run(ctx, c.rdb, []string{c.dueKey(shard), c.leaseKey(shard)}, nowMs, leaseMs, n, token).StringSlice()
}

var renewScript = newScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`)

// Renew implements store.Outbox.
func (c *CRM) Renew(ctx context.Context, id, token string, leaseMs int64) (bool, error) {
	n := c.deliveryShard(id)
	ok, err := renewScript.Run(ctx, c.rdb, []string{c.dueKey(n), c.leaseKey(n)}, id, token, leaseMs).Int()
	return ok == 1, err
}

// finishScript records an attempt's outcome if the caller still holds the
// lease.
//
//	KEYS: due, lease, dead, delivery hash, event hash
//	ARGV: id, token, outcome, next ms, now ms, status, error, keep ms,
//	  attempted (1/0)
var finishScript = newScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 'lost' end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[9] == '1' then
  redis.call('HINCRBY', KEYS[4], 'attempts', '1')
  redis.call('HSET', KEYS[4], 'last_at', ARGV[5], 'last_status', ARGV[6], 'last_error', ARGV[7])
end
local o = ARGV[3]
if o == 'done' or o == 'cancelled' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[4], 'state', o)
  redis.call('PEXPIRE', KEYS[4], ARGV[8])
  if redis.call('HINCRBY', KEYS[5], 'pending', '-1') <= 0 then
    redis.call('PEXPIRE', KEYS[5], ARGV[8])
  end
elseif o == 'retry' then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
elseif o == 'dead' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
  redis.call('HSET', KEYS[4], 'state', 'dead')
end
return 'ok'
`)

// Finish implements store.Outbox.
func (c *CRM) Finish(ctx context.Context, id, token string, f store.Finish) (bool, error) {
	n := c.deliveryShard(id)
	ev, _, _ := strings.Cut(id, ":")
	a := "0"
	if f.Attempted {
		a = "1"
	}
	keys := []string{c.dueKey(n), c.leaseKey(n), c.deadKey(n), c.deliveryKey(id), c.eventKey(n, ev)}
	r, err := finishScript.Run(ctx, c.rdb, keys, id, token, f.Outcome, f.NextMs, f.NowMs, f.Status, f.Error, f.Keep.Milliseconds(), a).Text()
	return r == "ok", err
}

// Delivery implements store.Outbox.
func (c *CRM) Delivery(ctx context.Context, id string) (*store.DeliveryState, error) {
	m, err := c.rdb.HGetAll(ctx, c.deliveryKey(id)).Result()
	if err != nil || len(m) == 0 {
		return nil, err
	}
	d := &store.DeliveryState{Event: m["event"], Type: m["type"], Sub: m["sub"], State: m["state"], LastError: m["last_error"]}
	d.Attempts, _ = strconv.Atoi(m["attempts"])
	d.LastStatus, _ = strconv.Atoi(m["last_status"])
	d.FirstMs, _ = strconv.ParseInt(m["first_at"], 10, 64)
	d.LastMs, _ = strconv.ParseInt(m["last_at"], 10, 64)
	return d, nil
}

// EventBody implements store.Outbox.
func (c *CRM) EventBody(ctx context.Context, event string) (string, error) {
	v, err := c.rdb.HGet(ctx, c.eventKey(c.shardOf(event), event), "body").Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, err
}

// Forget implements store.Outbox.
func (c *CRM) Forget(ctx context.Context, id string) error {
	n := c.deliveryShard(id)
	pipe := c.rdb.TxPipeline()
	pipe.ZRem(ctx, c.dueKey(n), id)
	pipe.HDel(ctx, c.leaseKey(n), id)
	_, err := pipe.Exec(ctx)
	return err
}

// Dead implements store.Outbox: the newest of every shard's dead letters.
func (c *CRM) Dead(ctx context.Context, limit int) ([]string, error) {
	var all []goredis.Z
	for n := 0; n < c.shards; n++ {
		zs, err := c.rdb.ZRevRangeWithScores(ctx, c.deadKey(n), 0, int64(limit-1)).Result()
		if err != nil {
			return nil, err
		}
		all = append(all, zs...)
	}
	sortZDesc(all)
	out := make([]string, 0, min(limit, len(all)))
	for i := 0; i < len(all) && i < limit; i++ {
		m, _ := all[i].Member.(string)
		out = append(out, m)
	}
	return out, nil
}

func sortZDesc(zs []goredis.Z) {
	for i := 1; i < len(zs); i++ {
		for j := i; j > 0 && (zs[j].Score > zs[j-1].Score || (zs[j].Score == zs[j-1].Score && zs[j].Member.(string) > zs[j-1].Member.(string))); j-- {
			zs[j], zs[j-1] = zs[j-1], zs[j]
		}
	}
}

var replayScript = newScript(`
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], 'state', 'pending', 'first_at', ARGV[2], 'attempts', '0')
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// Replay implements store.Outbox.
func (c *CRM) Replay(ctx context.Context, id string, nowMs int64) (bool, error) {
	if !strings.Contains(id, ":") {
		return false, nil
	}
	n := c.deliveryShard(id)
	r, err := replayScript.Run(ctx, c.rdb, []string{c.deadKey(n), c.dueKey(n), c.deliveryKey(id)}, id, nowMs).Int()
	return r == 1, err
}

// Due implements store.Outbox.
func (c *CRM) Due(ctx context.Context, limit int) ([]string, error) {
	var out []string
	for n := 0; n < c.shards && len(out) < limit; n++ {
		ms, err := c.rdb.ZRange(ctx, c.dueKey(n), 0, int64(limit-len(out)-1)).Result()
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}

// Backlog implements store.Outbox.
func (c *CRM) Backlog(ctx context.Context) (int64, error) {
	var total int64
	for n := 0; n < c.shards; n++ {
		l, err := c.rdb.XLen(ctx, c.streamKey(n)).Result()
		if err != nil {
			return 0, err
		}
		total += l
	}
	return total, nil
}
