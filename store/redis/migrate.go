package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// The CRM's key layout before issue 12 kept every CRM and webhook outbox
// key under one hash tag, PREFIX{crm}:… (one Redis Cluster slot):
//
//	{crm}:r:ID               record JSON            -> {r:ID}
//	{crm}:feed:ID            activity feed (zset)   -> {r:ID}:feed
//	{crm}:list:KIND          kind's list (zset)     -> {l:KIND}
//	{crm}:idx:KIND:VALUE     index entry (record id) -> {i:HASH}
//	{crm}:idem:KEY           idempotency key (JSON) -> {k:HASH}, "d"+JSON
//	{crm}:conv:CONV          conversation memory    -> {cc:CONV}
//	{crm}:conv:CONV:results  records made (zset)    -> {cc:CONV}:results
//	{crm}:chat:CONV          chat item JSON         -> {cc:CONV}:chat
//	{crm}:transcript:CONV    archived transcript    -> {cc:CONV}:transcript
//	{crm}:rr:TEAM            round-robin counter    -> {n:rr:TEAM}
//	{crm}:webhooks           subscriptions (hash)   -> {crm:webhooks}
//	{crm}:outbox             event stream           -> {ob:N}:stream
//	{crm}:emitted:ID         EmitOnce mark          -> {ob:N}:m:ID
//	{crm}:event:ID           fanned-out event       -> {ob:N}:e:ID
//	{crm}:delivery:EV:SUB    delivery (hash)        -> {ob:N}:d:EV:SUB
//	{crm}:deliveries:due     due/leased (zset)      -> {ob:N}:due
//	{crm}:deliveries:lease   lease tokens (hash)    -> {ob:N}:lease
//	{crm}:deliveries:dead    dead letters (zset)    -> {ob:N}:dead
//
// where N is the shard of the event id. MigrateLegacy moves them.

// CRMSchema is the CRM key layout this version reads; the schema key
// (PREFIX schema:crm) holds it once the keys of an older layout were
// moved.
const CRMSchema = "2"

// ErrMigrationBusy is what MigrateLegacy answers when another process
// holds the migration lock and MigrateOptions.Wait ran out.
var ErrMigrationBusy = errors.New("crm migration: another process is migrating")

// errMigrationStopped is what a test's MigrateOptions.failAfter answers.
var errMigrationStopped = errors.New("crm migration: stopped mid-way (test)")

// MigrateOptions configure MigrateLegacy.
type MigrateOptions struct {
	// Wait is how long to wait for another process that is migrating (it
	// holds the lock) to finish; 0: answer ErrMigrationBusy at once.
	Wait time.Duration
	// Logger receives progress; default: none.
	Logger *slog.Logger

	// failAfter, in tests, stops the migration with an error after that
	// many steps, as a process killed mid-way; 0 never.
	failAfter int
}

// MigrateReport says what MigrateLegacy did.
type MigrateReport struct {
	// Done: the schema key said the layout was migrated already (or the
	// process that held the lock finished it); nothing was read.
	Done bool
	// Keys is how many old keys were moved and deleted; Events how many
	// outbox events (entries of the old stream) were moved.
	Keys, Events int
	// Dropped is how many old outbox entries had no event id: the old
	// dispatcher dropped those too.
	Dropped int
	// Kept is how many values (index entries, records, fields) the new
	// layout held already with another value: the new one is kept.
	Kept int
	// Unknown lists old keys of no known kind, left where they are.
	Unknown []string
}

func (c *CRM) schemaKey() string      { return c.p + "schema:crm" }
func (c *CRM) migrateLockKey() string { return c.p + "schema:crm:lock" }
func (c *CRM) legacyTag() string      { return c.p + "{crm}:" }

// migrateLockTTL is how long the migration lock lasts unless renewed
// (every renewEvery steps and at least every third of it). The lease runs
// on the Redis server's clock, so the renewals are timed on the wall
// clock, not on an injected one.
const (
	migrateLockTTL = 30 * time.Second
	renewEvery     = 200
)

// releaseLock deletes KEYS[1] if it holds ARGV[1]; renewLock extends
// it. Both reply 1 when the caller held the lock.
var (
	releaseLock = newScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1`)
	renewLock = newScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1`)
)

// MigrateLegacy moves the CRM and the webhook outbox from the key layout
// before issue 12 (everything under PREFIX{crm}:, see the table above) to
// today's, so that an upgraded deployment keeps its records, indexes,
// feeds, idempotency keys, subscriptions, pending events and deliveries.
//
// It is guarded by the schema key: once it holds CRMSchema, MigrateLegacy
// reads nothing else. One process migrates at a time (a lock with a
// 30 s lease it renews); others wait up to o.Wait for it to finish. Every
// old key is read, written under its new name (a value the new layout
// holds already is kept: set-if-absent, hash fields and zset members
// added if absent, TTLs kept), and only then deleted; an outbox entry is
// added to its new shard together with a mark of its old entry id, in one
// script, then deleted from the old stream. So a migration killed at any
// point and run again ends with exactly what one run gives, and a second
// run changes nothing. No step spans two slots: it runs on a Redis
// Cluster as on one node.
func (c *CRM) MigrateLegacy(ctx context.Context, o MigrateOptions) (MigrateReport, error) {
	var rep MigrateReport
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if v, err := c.get(ctx, c.schemaKey()); err != nil || v == CRMSchema {
		rep.Done = err == nil
		return rep, err
	}
	token := migrateToken()
	deadline := time.Now().Add(o.Wait)
	for {
		ok, err := c.rdb.SetNX(ctx, c.migrateLockKey(), token, migrateLockTTL).Result()
		if err != nil {
			return rep, err
		}
		if ok {
			break
		}
		if v, err := c.get(ctx, c.schemaKey()); err != nil || v == CRMSchema {
			rep.Done = err == nil
			return rep, err
		}
		if !time.Now().Before(deadline) {
			return rep, ErrMigrationBusy
		}
		select {
		case <-ctx.Done():
			return rep, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer func() {
		_ = releaseLock.Run(context.WithoutCancel(ctx), c.rdb, []string{c.migrateLockKey()}, token).Err()
	}()
	// Another process may have finished between our two reads.
	if v, err := c.get(ctx, c.schemaKey()); err != nil || v == CRMSchema {
		rep.Done = err == nil
		return rep, err
	}
	m := &migration{c: c, o: o, rep: &rep, token: token, renewed: time.Now()}
	keys, err := c.legacyKeys(ctx)
	if err != nil {
		return rep, err
	}
	if len(keys) > 0 {
		log.Info("moving the CRM's keys from the {crm} layout", "keys", len(keys))
	}
	for i, k := range keys {
		if err := m.move(ctx, k); err != nil {
			return rep, fmt.Errorf("crm migration: %s: %w", k, err)
		}
		if (i+1)%1000 == 0 {
			log.Info("moving the CRM's keys", "done", i+1, "of", len(keys))
		}
	}
	if err := c.rdb.Set(ctx, c.schemaKey(), CRMSchema, 0).Err(); err != nil {
		return rep, err
	}
	if rep.Keys+rep.Events > 0 || len(rep.Unknown) > 0 {
		log.Info("moved the CRM to the key layout of this version", "keys", rep.Keys, "events", rep.Events, "dropped", rep.Dropped, "kept", rep.Kept, "unknown", len(rep.Unknown))
	}
	return rep, nil
}

func migrateToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// legacyKeys lists the old layout's keys (on every master of a cluster:
// they all sit in {crm}'s slot), records first, the outbox stream last: a
// reader during the move never finds an index entry whose record is not
// there yet.
func (c *CRM) legacyKeys(ctx context.Context) ([]string, error) {
	match := globEscape(c.legacyTag()) + "*"
	var (
		mu   sync.Mutex
		keys []string
	)
	scan := func(ctx context.Context, client goredis.Cmdable) error {
		var ks []string
		it := client.Scan(ctx, 0, match, 1000).Iterator()
		for it.Next(ctx) {
			ks = append(ks, it.Val())
		}
		if err := it.Err(); err != nil {
			return err
		}
		mu.Lock()
		keys = append(keys, ks...)
		mu.Unlock()
		return nil
	}
	if cl, ok := c.rdb.(*goredis.ClusterClient); ok {
		err := cl.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error { return scan(ctx, node) })
		if err != nil {
			return nil, err
		}
	} else if err := scan(ctx, c.rdb); err != nil {
		return nil, err
	}
	rank := func(k string) int {
		rest := strings.TrimPrefix(k, c.legacyTag())
		switch {
		case strings.HasPrefix(rest, "r:"):
			return 0
		case rest == "outbox":
			return 3
		case rest == "webhooks" || strings.HasPrefix(rest, "emitted:") || strings.HasPrefix(rest, "event:") ||
			strings.HasPrefix(rest, "delivery:") || strings.HasPrefix(rest, "deliveries:"):
			return 2
		}
		return 1
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, rj := rank(keys[i]), rank(keys[j])
		if ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	return slices.Compact(keys), nil // SCAN may return a key twice
}

// globEscape escapes the characters SCAN MATCH treats as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// migration is one run of MigrateLegacy.
type migration struct {
	c       *CRM
	o       MigrateOptions
	rep     *MigrateReport
	token   string
	steps   int
	renewed time.Time
}

// step counts one step (a key or an event written under its new name,
// before the old one is deleted), renews the lock now and then, and stops
// where a test asked: as a process killed between the write and the
// delete.
func (m *migration) step(ctx context.Context) error {
	m.steps++
	if m.o.failAfter > 0 && m.steps >= m.o.failAfter {
		return errMigrationStopped
	}
	if m.steps%renewEvery == 0 || time.Since(m.renewed) > migrateLockTTL/3 {
		ok, err := renewLock.Run(ctx, m.c.rdb, []string{m.c.migrateLockKey()}, m.token, migrateLockTTL.Milliseconds()).Int()
		if err != nil {
			return err
		}
		if ok != 1 {
			return errors.New("lost the migration lock (the process stalled for longer than its lease)")
		}
		m.renewed = time.Now()
	}
	return nil
}

// move moves one old key, then deletes it.
func (m *migration) move(ctx context.Context, old string) error {
	c := m.c
	rest := strings.TrimPrefix(old, c.legacyTag())
	typ, err := c.rdb.Type(ctx, old).Result()
	if err != nil {
		return err
	}
	if typ == "none" {
		return nil // gone since the scan
	}
	name, arg, _ := strings.Cut(rest, ":")
	var moveErr error
	switch {
	case name == "r" && typ == "string":
		moveErr = m.copyString(ctx, old, c.recKey(arg), "")
	case name == "feed" && typ == "zset":
		moveErr = m.copyZSet(ctx, old, func(string) string { return c.feedKey(arg) })
	case name == "list" && typ == "zset":
		moveErr = m.copyZSet(ctx, old, func(string) string { return c.listKey(arg) })
	case name == "idx" && typ == "string":
		moveErr = m.copyString(ctx, old, c.indexKey(arg), "")
	case name == "idem" && typ == "string":
		moveErr = m.copyString(ctx, old, c.idemKey(arg), "d")
	case name == "conv" && typ == "zset" && strings.HasSuffix(arg, ":results"):
		conv := strings.TrimSuffix(arg, ":results")
		moveErr = m.copyZSet(ctx, old, func(string) string { return c.resultsKey(conv) })
	case name == "conv" && typ == "hash":
		moveErr = m.copyHash(ctx, old, func(string) string { return c.convKey(arg) })
	case name == "chat" && typ == "string":
		moveErr = m.copyString(ctx, old, c.chatKey(arg), "")
	case name == "transcript" && typ == "string":
		moveErr = m.copyString(ctx, old, c.archiveKey(arg), "")
	case name == "rr" && typ == "string":
		moveErr = m.copyCounter(ctx, old, c.counterKey("rr:"+arg))
	case rest == "webhooks" && typ == "hash":
		moveErr = m.copyHash(ctx, old, func(string) string { return c.subsKey() })
	case name == "emitted" && typ == "string":
		moveErr = m.copyString(ctx, old, c.markKey(c.shardOf(arg), arg), "")
	case name == "event" && typ == "hash":
		moveErr = m.copyHash(ctx, old, func(string) string { return c.eventKey(c.shardOf(arg), arg) })
	case name == "delivery" && typ == "hash":
		moveErr = m.copyHash(ctx, old, func(string) string { return c.deliveryKey(arg) })
	case rest == "deliveries:due" && typ == "zset":
		moveErr = m.copyZSet(ctx, old, func(mem string) string { return c.dueKey(c.deliveryShard(mem)) })
	case rest == "deliveries:dead" && typ == "zset":
		moveErr = m.copyZSet(ctx, old, func(mem string) string { return c.deadKey(c.deliveryShard(mem)) })
	case rest == "deliveries:lease" && typ == "hash":
		moveErr = m.copyHash(ctx, old, func(field string) string { return c.leaseKey(c.deliveryShard(field)) })
	case rest == "outbox" && typ == "stream":
		return m.moveStream(ctx, old)
	default:
		m.rep.Unknown = append(m.rep.Unknown, old)
		return nil
	}
	if moveErr != nil {
		return moveErr
	}
	if err := m.step(ctx); err != nil {
		return err
	}
	if err := c.rdb.Del(ctx, old).Err(); err != nil {
		return err
	}
	m.rep.Keys++
	return nil
}

// pttl is a key's time to live for a copy: 0 for none.
func (m *migration) pttl(ctx context.Context, key string) (time.Duration, error) {
	d, err := m.c.rdb.PTTL(ctx, key).Result()
	if err != nil || d < 0 {
		return 0, err
	}
	return d, nil
}

// copyString sets to (with prefix before the value) unless it is set.
func (m *migration) copyString(ctx context.Context, from, to, prefix string) error {
	v, err := m.c.get(ctx, from)
	if err != nil {
		return err
	}
	ttl, err := m.pttl(ctx, from)
	if err != nil {
		return err
	}
	want := prefix + v
	ok, err := m.c.rdb.SetNX(ctx, to, want, ttl).Result()
	if err != nil || ok {
		return err
	}
	if cur, err := m.c.get(ctx, to); err != nil {
		return err
	} else if cur != want {
		m.rep.Kept++
	}
	return nil
}

// copyCounter sets to to the larger of the two counters.
var maxCounter = newScript(`
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`)

func (m *migration) copyCounter(ctx context.Context, from, to string) error {
	v, err := m.c.rdb.Get(ctx, from).Int64()
	if err != nil {
		return err
	}
	return maxCounter.Run(ctx, m.c.rdb, []string{to}, v).Err()
}

// copyZSet adds every member, with its score, to the key to names for it,
// unless it is there already.
func (m *migration) copyZSet(ctx context.Context, from string, to func(member string) string) error {
	zs, err := m.c.rdb.ZRangeWithScores(ctx, from, 0, -1).Result()
	if err != nil {
		return err
	}
	ttl, err := m.pttl(ctx, from)
	if err != nil {
		return err
	}
	byKey := map[string][]goredis.Z{}
	for _, z := range zs {
		mem, _ := z.Member.(string)
		k := to(mem)
		byKey[k] = append(byKey[k], z)
	}
	pipe := m.c.rdb.Pipeline()
	for k, zs := range byKey {
		for start := 0; start < len(zs); start += 500 {
			pipe.ZAddNX(ctx, k, zs[start:min(start+500, len(zs))]...)
		}
		if ttl > 0 {
			pipe.PExpire(ctx, k, ttl)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	_, err = pipe.Exec(ctx)
	return err
}

// copyHash sets every field in the key to names for it, unless set.
func (m *migration) copyHash(ctx context.Context, from string, to func(field string) string) error {
	h, err := m.c.rdb.HGetAll(ctx, from).Result()
	if err != nil {
		return err
	}
	ttl, err := m.pttl(ctx, from)
	if err != nil {
		return err
	}
	pipe := m.c.rdb.Pipeline()
	type set struct{ key, field, value string }
	var sets []set
	cmds := []*goredis.BoolCmd{}
	keys := map[string]bool{}
	for f, v := range h {
		k := to(f)
		keys[k] = true
		sets = append(sets, set{k, f, v})
		cmds = append(cmds, pipe.HSetNX(ctx, k, f, v))
	}
	if ttl > 0 {
		for k := range keys {
			pipe.PExpire(ctx, k, ttl)
		}
	}
	if pipe.Len() == 0 {
		return nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	for i, cmd := range cmds {
		if cmd.Val() {
			continue
		}
		if cur, err := m.c.rdb.HGet(ctx, sets[i].key, sets[i].field).Result(); err == nil && cur != sets[i].value {
			m.rep.Kept++
		}
	}
	return nil
}

// moveEventScript adds an old outbox entry to its shard's stream once:
// KEYS[1] the mark of the old entry id, KEYS[2] the stream; ARGV keep ms,
// event id, type, body. Replies 1 when it added the event.
var moveEventScript = newScript(`
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'type', ARGV[3], 'e', ARGV[4])
return 1`)

// movedMarkKeep is how long the mark of a moved outbox entry is kept.
const movedMarkKeep = 7 * 24 * time.Hour

// moveStream moves the old outbox's entries, oldest first, each to the
// shard of its event id, and deletes each from the old stream once it is
// in the new one (read or not by an old consumer: an entry read and never
// fanned out was still to do). An entry without an event id is dropped, as
// the old dispatcher dropped it.
func (m *migration) moveStream(ctx context.Context, old string) error {
	c := m.c
	for {
		msgs, err := c.rdb.XRangeN(ctx, old, "-", "+", 100).Result()
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			break
		}
		for _, msg := range msgs {
			typ, _ := msg.Values["type"].(string)
			body, _ := msg.Values["e"].(string)
			var head struct {
				ID string `json:"id"`
			}
			if json.Unmarshal([]byte(body), &head) != nil || head.ID == "" {
				m.rep.Dropped++
			} else {
				n := c.shardOf(head.ID)
				err := moveEventScript.Run(ctx, c.rdb, []string{c.ob(n) + "moved:" + msg.ID, c.streamKey(n)}, movedMarkKeep.Milliseconds(), head.ID, typ, body).Err()
				if err != nil {
					return err
				}
				m.rep.Events++
			}
			if err := m.step(ctx); err != nil {
				return err
			}
			if err := c.rdb.XDel(ctx, old, msg.ID).Err(); err != nil {
				return err
			}
		}
	}
	if err := c.rdb.Del(ctx, old).Err(); err != nil {
		return err
	}
	m.rep.Keys++
	return nil
}

// LegacyCRMKey names a key of the CRM's layout before issue 12 (for tests
// that write one): PREFIX{crm}:rest.
func LegacyCRMKey(prefix, rest string) string {
	if prefix == "" {
		prefix = "pb:"
	}
	return prefix + "{crm}:" + rest
}
