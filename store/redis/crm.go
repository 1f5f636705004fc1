package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// CRM keeps the CRM records, their indexes and the webhook outbox in Redis,
// one node or a Cluster. No key is shared by everything: each record has
// its own hash tag ({r:ID}, its feed beside it), each index entry and
// idempotency key its own ({i:HASH}, {k:HASH}), each conversation's memory
// its own ({cc:ID}), each kind's list its own ({l:KIND}), and the outbox
// is sharded ({ob:N}: a stream, its consumer group, its deliveries). A
// change that spans records is applied in single-slot steps (see
// store.CRMChange). It implements store.CRM and store.Outbox.
type CRM struct {
	rdb    goredis.UniversalClient
	p      string
	shards int

	// crashAfter, in tests, stops Apply as a killed process would (see
	// CrashAfter in export_test.go); 0 never.
	crashAfter int
}

// errCrash is what Apply answers when a test stopped it mid-way.
var errCrash = errors.New("crm store: stopped mid-way (test)")

// DefaultOutboxShards is how many streams the outbox is spread over.
const DefaultOutboxShards = 8

// NewCRM returns the CRM on rdb, with keys starting with prefix ("pb:").
func NewCRM(rdb goredis.UniversalClient, prefix string) *CRM {
	if prefix == "" {
		prefix = "pb:"
	}
	return &CRM{rdb: rdb, p: prefix, shards: DefaultOutboxShards}
}

var (
	_ store.CRM          = (*CRM)(nil)
	_ store.Outbox       = (*CRM)(nil)
	_ store.CRMPublisher = (*CRM)(nil)
)

// PublishesOn implements store.CRMPublisher: a change's messages go out
// with its step 3, heard by a Bus on the same client.
func (c *CRM) PublishesOn(publisher any) bool {
	b, ok := busOf(publisher)
	return ok && b.rdb == c.rdb
}

func crmTag(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:10])
}

func (c *CRM) recKey(id string) string     { return c.p + "{r:" + id + "}" }
func (c *CRM) feedKey(id string) string    { return c.p + "{r:" + id + "}:feed" }
func (c *CRM) indexKey(name string) string { return c.p + "{i:" + crmTag(name) + "}" }
func (c *CRM) idemKey(key string) string   { return c.p + "{k:" + crmTag(key) + "}" }
func (c *CRM) listKey(kind string) string  { return c.p + "{l:" + kind + "}" }
func (c *CRM) convKey(conv string) string  { return c.p + "{cc:" + conv + "}" }
func (c *CRM) resultsKey(conv string) string {
	return c.p + "{cc:" + conv + "}:results"
}
func (c *CRM) chatKey(conv string) string    { return c.p + "{cc:" + conv + "}:chat" }
func (c *CRM) archiveKey(conv string) string { return c.p + "{cc:" + conv + "}:transcript" }
func (c *CRM) counterKey(name string) string { return c.p + "{n:" + name + "}" }
func (c *CRM) subsKey() string               { return c.p + "{crm:webhooks}" }

// casScript is one compare-and-set: KEYS[1] must hold ARGV[1] ("" =
// absent), then holds ARGV[2] ("" = deleted). Holding ARGV[2] already, or
// ARGV[3] when given (a new record's final form, for a change applied
// again), is success. Replies 1 or 0.
var casScript = newScript(`
local cur = redis.call('GET', KEYS[1]) or ''
if cur == ARGV[2] or (ARGV[3] and ARGV[3] ~= '' and cur == ARGV[3]) then return 1 end
if cur ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2]) end
return 1
`)

// intentScript claims an idempotency key with a plan: it replies {'new'}
// when it set it, else {'has', value}.
var intentScript = newScript(`
local cur = redis.call('GET', KEYS[1])
if cur then return {'has', cur} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return {'new'}
`)

// Records implements store.CRM.
func (c *CRM) Records(ctx context.Context, ids ...string) ([]string, error) {
	keys := make([]string, len(ids))
	for i, id := range ids {
		if id == "" {
			keys[i] = ""
			continue
		}
		keys[i] = c.recKey(id)
	}
	return c.getAll(ctx, keys)
}

// getAll reads string keys in one pipeline ("" for a missing key or an
// empty name); the keys may be in any slots.
func (c *CRM) getAll(ctx context.Context, keys []string) ([]string, error) {
	out := make([]string, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	pipe := c.rdb.Pipeline()
	cmds := make([]*goredis.StringCmd, len(keys))
	for i, k := range keys {
		if k != "" {
			cmds[i] = pipe.Get(ctx, k)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, err
	}
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		v, err := cmd.Result()
		if err != nil && !errors.Is(err, goredis.Nil) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (c *CRM) get(ctx context.Context, key string) (string, error) {
	v, err := c.rdb.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil
	}
	return v, err
}

// Lookup implements store.CRM.
func (c *CRM) Lookup(ctx context.Context, index string) (string, error) {
	return c.get(ctx, c.indexKey(index))
}

// Intent implements store.CRM.
func (c *CRM) Intent(ctx context.Context, key string) (string, error) {
	v, err := c.get(ctx, c.idemKey(key))
	if err != nil || v == "" {
		return "", err
	}
	if done, ok := strings.CutPrefix(v, "d"); ok {
		return done, nil
	}
	var prev store.CRMChange
	if err := json.Unmarshal([]byte(v[1:]), &prev); err != nil {
		return "", fmt.Errorf("crm store: bad plan under idempotency key: %w", err)
	}
	if _, err := c.apply(ctx, &prev, v, false); err != nil {
		if errors.Is(err, store.ErrStale) {
			return "", nil // undone: the key is unused again
		}
		return "", err
	}
	return prev.Done, nil
}

// step is one compare-and-set of a change, on a key; also is a value
// that counts as done too.
type step struct {
	key            string
	old, new, also string
}

// Apply implements store.CRM, in the steps store.CRMChange describes. On
// one node it takes one round trip: the whole change in one script
// (applyScript: the claim, the compare-and-sets of new records, index
// entries and changed records, then the rest and the done mark; a stale
// compare answers before anything is written, so there is nothing to
// undo, and a script Redis runs to the end leaves no step half done). On
// a Cluster, where no script spans the slots, four steps, each after the
// one before succeeded: the claim with the new records, the index entries
// and changed records, the rest, and the done mark, which Apply sends
// without waiting for it (markDone): three round trips.
func (c *CRM) Apply(ctx context.Context, ch *store.CRMChange) (string, error) {
	var planned string
	if _, cluster := c.rdb.(*goredis.ClusterClient); ch.Key != "" && (cluster || c.crashAfter != 0) {
		// The plan is written only where a change goes in steps: one
		// script writes none.
		b, err := json.Marshal(ch)
		if err != nil {
			return "", err
		}
		planned = "p" + string(b)
	}
	return c.apply(ctx, ch, planned, true)
}

// apply runs a change's steps; planned is the value of its idempotency key
// while it is under way. With claim it claims the key first; a key used
// before answers its done value, or finishes the plan it holds.
func (c *CRM) apply(ctx context.Context, ch *store.CRMChange, planned string, claim bool) (string, error) {
	_, cluster := c.rdb.(*goredis.ClusterClient)
	if !cluster && c.crashAfter == 0 {
		// One node: the whole change in one script, one round trip.
		if dup, sent, err := c.applyOnce(ctx, ch, planned, claim && ch.Key != ""); sent {
			return dup, err
		}
		// Too big for the script's shape (none of this package's
		// changes is): in steps, as below, its plan under the key.
		if planned == "" && claim && ch.Key != "" {
			b, err := json.Marshal(ch)
			if err != nil {
				return "", err
			}
			planned = "p" + string(b)
		}
	}
	fresh, later := c.steps(ch)
	if c.crashAfter == 1 {
		// As if the process died before anything was written.
		if claim && ch.Key != "" {
			_ = c.rdb.Set(ctx, c.idemKey(ch.Key), planned, c.keyTTL(ch)).Err()
		}
		return "", errCrash
	}
	if !cluster && c.crashAfter != 2 {
		// One node: steps 1 and 2 in one script, all or nothing.
		dup, err := c.claimAndSet(ctx, ch, planned, claim && ch.Key != "", append(fresh, later...))
		if err != nil || dup != "" {
			return dup, err
		}
	} else if dup, err := c.stepwise(ctx, ch, planned, claim, fresh, later); err != nil || dup != "" {
		return dup, err
	}
	if c.crashAfter == 3 {
		return "", errCrash
	}
	// On one node the done mark goes last in the same pipeline: Redis
	// runs a connection's commands in order, so a crash that cut the
	// pipeline short left the mark unset. On a Cluster the nodes run
	// their parts in any order: the mark waits for the rest.
	markNow := ch.Key != "" && !cluster && c.crashAfter != 4
	// The scripts go by hash (EVALSHA), and those a node had forgotten
	// are sent again once loaded (rerunNoScript), except when the mark
	// rides in this pipeline: then with their source (EVAL), so that
	// nothing is left for after the mark.
	eval := (*goredis.Script).EvalSha
	if markNow {
		eval = (*goredis.Script).Eval
	}
	// Everything else is idempotent: redoing it after a crash changes
	// nothing twice.
	pipe := c.rdb.Pipeline()
	for _, f := range fresh {
		eval(casScript, ctx, pipe, []string{f.key}, f.new, f.also)
	}
	for _, l := range ch.Listed {
		pipe.ZAdd(ctx, c.listKey(l.Kind), goredis.Z{Score: float64(l.Ms), Member: l.ID})
	}
	for _, f := range ch.Conv {
		pipe.HSet(ctx, c.convKey(f.Conv), f.Field, f.Value)
	}
	for _, r := range ch.Results {
		pipe.ZAdd(ctx, c.resultsKey(r.Conv), goredis.Z{Score: float64(r.Score), Member: r.ID})
	}
	for _, f := range ch.Feeds {
		z := goredis.Z{Score: float64(f.Ms), Member: f.Member}
		if f.NX {
			pipe.ZAddNX(ctx, c.feedKey(f.Owner), z)
		} else {
			pipe.ZAdd(ctx, c.feedKey(f.Owner), z)
		}
	}
	for _, x := range ch.Chats {
		pipe.Set(ctx, c.chatKey(x.Conv), x.JSON, 0)
	}
	for _, ev := range ch.Events {
		c.emitOnce(ctx, pipe, eval, ev, eventMarkKeep)
	}
	for _, m := range ch.Publish {
		pipe.Publish(ctx, m.Channel, m.Payload)
	}
	if markNow {
		pipe.Set(ctx, c.idemKey(ch.Key), "d"+ch.Done, c.keyTTL(ch))
	}
	if pipe.Len() > 0 {
		cmds, err := pipe.Exec(ctx)
		if err != nil && !markNow {
			err = rerunNoScript(ctx, c.rdb, cmds)
		}
		if err != nil {
			if markNow {
				// A command failed after the mark may have been set: the
				// plan again, so a retry finishes it.
				_ = casScript.Run(context.WithoutCancel(ctx), c.rdb, []string{c.idemKey(ch.Key)}, "d"+ch.Done, planned).Err()
			}
			return "", err
		}
	}
	if c.crashAfter == 4 {
		return "", errCrash
	}
	if ch.Key != "" && !markNow {
		if claim {
			// A Cluster: the change is all written, final and visible; the
			// key holds its plan until the mark lands. The caller does
			// not wait for it (see markDone).
			go c.markDone(context.WithoutCancel(ctx), ch)
			return "", nil
		}
		if err := c.rdb.Set(ctx, c.idemKey(ch.Key), "d"+ch.Done, c.keyTTL(ch)).Err(); err != nil {
			return "", err
		}
	}
	return "", nil
}

// steps are a change's compare-and-sets: fresh those of its new records
// (their new value is their pending form, also their final one), later
// those of its changed records and index entries.
func (c *CRM) steps(ch *store.CRMChange) (fresh, later []step) {
	for _, r := range ch.Records {
		s := step{key: c.recKey(r.Name), old: r.Old, new: r.New}
		if r.Old == "" {
			s.new, s.also = store.PendingRecordForm(ch.Planned, r.New), r.New
			fresh = append(fresh, s)
		} else {
			later = append(later, s)
		}
	}
	for _, x := range ch.Indexes {
		later = append(later, step{key: c.indexKey(x.Name), old: x.Old, new: x.New})
	}
	return fresh, later
}

// markDone sets a change's done mark (step 4 on a Cluster) after the rest
// was written, without the caller waiting for it. Until it lands, or if
// it fails (the process stops first), the key holds the plan; a change
// with the same key finds it and applies it again, which changes nothing
// (every step of a plan applied once holds already) but sends its
// messages again, then marks it done.
func (c *CRM) markDone(ctx context.Context, ch *store.CRMChange) {
	ctx, cancel := context.WithTimeout(ctx, markDoneTimeout)
	defer cancel()
	_ = c.rdb.Set(ctx, c.idemKey(ch.Key), "d"+ch.Done, c.keyTTL(ch)).Err()
}

// markDoneTimeout bounds markDone.
const markDoneTimeout = 10 * time.Second

// stepwise runs steps 1 and 2 of a change in two round trips, each
// touching one slot per command, in order (a Cluster): the claim with the
// new records, then the index entries and changed records; what a failure
// leaves is undone.
func (c *CRM) stepwise(ctx context.Context, ch *store.CRMChange, planned string, claim bool, fresh, later []step) (string, error) {
	var intent *goredis.Cmd
	done, err := c.cas(ctx, fresh, func(pipe goredis.Pipeliner) {
		if claim && ch.Key != "" {
			intent = intentScript.EvalSha(ctx, pipe, []string{c.idemKey(ch.Key)}, planned, c.keyTTL(ch).Milliseconds())
		}
	})
	if intent != nil {
		res, ierr := intent.StringSlice()
		if ierr != nil {
			_ = c.undo(ctx, done, "", "")
			return "", ierr
		}
		if res[0] == "has" {
			// The key was used: forget the records just written.
			if err := c.undo(ctx, done, "", ""); err != nil {
				return "", err
			}
			return c.used(ctx, res[1])
		}
	}
	if err == nil {
		if c.crashAfter == 2 {
			return "", errCrash
		}
		var ok []step
		ok, err = c.cas(ctx, later, nil)
		done = append(done, ok...)
	}
	if err != nil {
		undoErr := c.undo(ctx, done, ch.Key, planned)
		if errors.Is(err, store.ErrStale) && undoErr != nil {
			return "", undoErr
		}
		return "", err
	}
	return "", nil
}

// used answers a change whose idempotency key holds v already: its done
// value, or, for a plan that did not finish (a crash, or it is under
// way), ErrStale once that plan is finished (the caller reads again and
// finds the key done).
func (c *CRM) used(ctx context.Context, v string) (string, error) {
	if d, ok := strings.CutPrefix(v, "d"); ok {
		return d, nil
	}
	var prev store.CRMChange
	if err := json.Unmarshal([]byte(v[1:]), &prev); err != nil {
		return "", fmt.Errorf("crm store: bad plan under idempotency key: %w", err)
	}
	if _, err := c.apply(ctx, &prev, v, false); err != nil {
		return "", err
	}
	return "", store.ErrStale
}

// claimSetLua defines claimSet(claim, n, off), the first two steps of a
// change in one script (claimSetScript and applyScript): when claim, the
// idempotency key KEYS[1] is claimed (ARGV[2], kept ARGV[3] ms) unless it
// holds a result already ({'has', it}); the n compare-and-sets on
// KEYS[2..n+1], 3 ARGV each (old, new, also) from ARGV[3+off], are all
// checked before any is written ({'stale'}: nothing written). It returns
// nil when both are done.
var claimSetLua = `
local function claimSet(claim, n, off)
  if claim then
    local cur = redis.call('GET', KEYS[1])
    if cur then return {'has', cur} end
  end
  local set = {}
  for i = 1, n do
    local cur = redis.call('GET', KEYS[i+1]) or ''
    local old, new, also = ARGV[3*i+off], ARGV[3*i+off+1], ARGV[3*i+off+2]
    if cur == new or (also ~= '' and cur == also) then
    elseif cur == old then
      set[#set+1] = i
    else
      return {'stale'}
    end
  end
  for _, i in ipairs(set) do
    local new = ARGV[3*i+off+1]
    if new == '' then redis.call('DEL', KEYS[i+1]) else redis.call('SET', KEYS[i+1], new) end
  end
  if claim then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
  return nil
end
`

// claimSetScript is steps 1 and 2 of a change on one node, atomically:
// with ARGV[1] '1' it claims the idempotency key KEYS[1] with the plan
// ARGV[2] for ARGV[3] ms (replying {'has', value} when the key is used);
// then every KEYS[i+1] must hold ARGV[3i+1] (empty: absent), or hold
// ARGV[3i+2] or ARGV[3i+3] (when not empty) already, else it replies
// {'stale'} and writes nothing; then each takes ARGV[3i+2] (empty:
// deleted). Replies {'new'}.
var claimSetScript = newScript(claimSetLua + `
local stop = claimSet(ARGV[1] == '1', #KEYS - 1, 1)
if stop then return stop end
return {'new'}
`)

// claimAndSet runs claimSetScript (one node only: its keys are in many
// slots).
func (c *CRM) claimAndSet(ctx context.Context, ch *store.CRMChange, planned string, claim bool, steps []step) (string, error) {
	keys := make([]string, 0, len(steps)+1)
	args := make([]any, 0, 3*len(steps)+3)
	idem := c.p + "{k:none}"
	if ch.Key != "" {
		idem = c.idemKey(ch.Key)
	}
	keys = append(keys, idem)
	flag := "0"
	if claim {
		flag = "1"
	}
	args = append(args, flag, planned, c.keyTTL(ch).Milliseconds())
	for _, s := range steps {
		keys = append(keys, s.key)
		args = append(args, s.old, s.new, s.also)
	}
	res, err := claimSetScript.Run(ctx, c.rdb, keys, args...).StringSlice()
	if err != nil {
		return "", err
	}
	return c.scriptReply(ctx, res, ch, planned, claim, steps)
}

// scriptReply reads the reply of claimSetScript or applyScript: "has" (the
// key was used: its result), "stale" (a compare failed, nothing written)
// or "new".
func (c *CRM) scriptReply(ctx context.Context, res []string, ch *store.CRMChange, planned string, claim bool, steps []step) (string, error) {
	switch res[0] {
	case "has":
		return c.used(ctx, res[1])
	case "stale":
		if !claim && ch.Key != "" {
			// A plan found under its key (a crash left it) that can no
			// longer be applied: what it wrote before goes, and its key
			// is released, as stepwise's undo does.
			if err := c.undo(ctx, steps, ch.Key, planned); err != nil {
				return "", err
			}
		}
		return "", store.ErrStale
	}
	return "", nil
}

// applyScript is a whole change on one node, atomically as far as Redis
// scripts go. ARGV[1] is its shape, one byte a number: counts, and refs,
// each the index in ARGV of a string (0: none); ARGV[2] is the key prefix
// and the rest the strings the refs name, each once (applyArgs). The key
// of a record, its feed, a list and a conversation's memory, results and
// chat are made from the prefix and the id, kind or conversation, as
// CRM.recKey and the others make them; an index entry's, the idempotency
// key's and the outbox's are passed whole. The shape:
//
//	claim (0 or 1), the idempotency key, its keep (ms), its done value
//	records: count, then id, old, new, also each
//	index entries: count, then key, old, new each
//	chats: count, then conversation, JSON each
//	lists: count, then kind, n and n (ms, id) pairs each
//	memories: count, then conversation, n and n (field, value) pairs each
//	results: count, then conversation, n and n (score, id) pairs each
//	feeds: count, then owner, NX (0 or 1), n and n (ms, member) pairs each
//	events: count, then mark key, stream key, mark's keep (ms), type, body, id each
//	messages: count, then channel, payload each
//
// With claim it claims the idempotency key (replying {'has', value} when
// the key holds one); it reads the key and every compared key in one MGET,
// and checks every compare before it writes anything: a key holding new
// is done already, one holding old or also (when not empty: a new record's
// pending form, left by a plan under way) takes new, any other value
// replies {'stale'} with nothing written. Then it writes, one command a
// key: the compared keys and the chats in one MSET (when an index entry
// is deleted, each in order by SET or DEL), each list, memory, results
// and feed (with NX or without) in one ZADD or HSET, each event once
// (its mark set NX, then XADD), each PUBLISH, and last the done value
// under the key (none when there is no done value), and replies 1. The
// arguments of a ZADD or HSET are given by refs, recursively, not unpacked
// from a table (a table each costs Redis more). No plan is written:
// nothing runs between the claim and the done mark. Redis fails no write
// of a script half-way but for a bug (a key of another type): it would
// leave the key unclaimed and what was written before it.
var applyScript = newBoxedScript(`
local b, A = {string.byte(ARGV[1], 1, -1)}, ARGV
local p, claim, idem = A[2], b[1] == 1, A[b[2]]
local function refs(i, n)
  if n > 0 then return A[b[i]], refs(i + 1, n - 1) end
end
local keys, nr, i = {idem}, b[5], 6
if not claim then keys[1] = nil end
for _ = 1, nr do
  keys[#keys+1] = p .. '{r:' .. A[b[i]] .. '}'
  i = i + 4
end
local ni = b[i]
for _ = 1, ni do
  keys[#keys+1] = A[b[i+1]]
  i = i + 3
end
local cur, c, w, del = keys, 0, {}, false
if #keys > 0 then cur = redis.call('MGET', unpack(keys)) end
if claim then
  if cur[1] then return {'has', cur[1]} end
  c = 1
end
local function check(k, v, old, new, also)
  if v == new then return true end
  if v ~= old and (also == '' or v ~= also) then return false end
  w[#w+1] = k
  w[#w+1] = new
  if new == '' then del = true end
  return true
end
i = 6
for _ = 1, nr do
  c = c + 1
  if not check(keys[c], cur[c] or '', A[b[i+1]], A[b[i+2]], A[b[i+3]]) then return {'stale'} end
  i = i + 4
end
for _ = 1, ni do
  c = c + 1
  if not check(keys[c], cur[c] or '', A[b[i+2]], A[b[i+3]], '') then return {'stale'} end
  i = i + 3
end
local compared = #w
i = i + 1
for _ = 1, b[i] do
  w[#w+1] = p .. '{cc:' .. A[b[i+1]] .. '}:chat'
  w[#w+1] = A[b[i+2]]
  i = i + 2
end
if del then
  for j = 1, #w, 2 do
    if j < compared and w[j+1] == '' then redis.call('DEL', w[j]) else redis.call('SET', w[j], w[j+1]) end
  end
elseif #w > 0 then
  redis.call('MSET', unpack(w))
end
-- Groups of one command a key: a count, then for each the key's id, n
-- and its n pairs (the key is p .. pre .. id .. suf).
local function groups(cmd, pre, suf)
  i = i + 1
  for _ = 1, b[i] do
    local n = b[i+2]
    redis.call(cmd, p .. pre .. A[b[i+1]] .. suf, refs(i+3, 2*n))
    i = i + 2 + 2*n
  end
end
groups('ZADD', '{l:', '}')
groups('HSET', '{cc:', '}')
groups('ZADD', '{cc:', '}:results')
i = i + 1
for _ = 1, b[i] do
  local k, n = p .. '{r:' .. A[b[i+1]] .. '}:feed', b[i+3]
  if b[i+2] == 1 then
    redis.call('ZADD', k, 'NX', refs(i+4, 2*n))
  else
    redis.call('ZADD', k, refs(i+4, 2*n))
  end
  i = i + 3 + 2*n
end
i = i + 1
for _ = 1, b[i] do
  if redis.call('SET', A[b[i+1]], '1', 'NX', 'PX', A[b[i+3]]) then
    redis.call('XADD', A[b[i+2]], '*', 'id', A[b[i+6]], 'type', A[b[i+4]], 'e', A[b[i+5]])
  end
  i = i + 6
end
i = i + 1
for _ = 1, b[i] do
  redis.call('PUBLISH', A[b[i+1]], A[b[i+2]])
  i = i + 2
end
local done = A[b[4]]
if done then redis.call('SET', idem, done, 'PX', A[b[3]]) end
return 1
`)

// applyOnce applies a change on one node in one round trip (applyScript),
// its new records in their final form at once (a plan found under way,
// planned, may have written their pending form, which they take over). It
// reports false, having sent nothing, for a change whose shape does not
// fit in applyScript's bytes (more than 254 distinct strings, or 255 of
// something; applyArgs).
func (c *CRM) applyOnce(ctx context.Context, ch *store.CRMChange, planned string, claim bool) (dup string, sent bool, err error) {
	var a applyArgs
	if !a.build(c, ch, planned, claim) {
		return "", false, nil
	}
	v, err := applyScript.Run(ctx, c.rdb, nil, a.args()).Result()
	if err != nil {
		return "", true, err
	}
	res := []string{"new"}
	if r, ok := v.([]any); ok {
		if res = scriptStrings(r); len(res) == 0 {
			return "", true, fmt.Errorf("crm store: a change's script answered %v", v)
		}
	}
	if res[0] == "stale" && !claim && ch.Key != "" {
		// What a plan found under way wrote before is undone (scriptReply).
		fresh, later := c.steps(ch)
		dup, err = c.scriptReply(ctx, res, ch, planned, claim, append(fresh, later...))
		return dup, true, err
	}
	dup, err = c.scriptReply(ctx, res, ch, planned, claim, nil)
	return dup, true, err
}

// applyArgs is applyScript's arguments being built: its shape, and the
// strings its refs name, each once (strs[0] is the key prefix, ARGV[2]; a
// string's ref is its index in strs plus 2).
type applyArgs struct {
	shape []byte
	strs  []string
	nums  []numRef
	// room is where shape and strs start, enough for a lead's create.
	room struct {
		shape [96]byte
		strs  [32]string
		nums  [8]numRef
	}
	// full is set once something does not fit.
	full bool
}

// numRef is a number formatted once, and its string's ref.
type numRef struct {
	n   int64
	ref byte
}

// maxShape bounds applyScript's shape: the script reads it with one
// string.byte, whose values must fit Lua's stack (8,000).
const maxShape = 4096

// ref is the ref of s, added to the strings if new.
func (a *applyArgs) ref(s string) byte {
	for i, x := range a.strs {
		if x == s {
			return byte(i + 2)
		}
	}
	if len(a.strs) >= 254 {
		a.full = true
		return 0
	}
	a.strs = append(a.strs, s)
	return byte(len(a.strs) + 1)
}

// num is the ref of n's decimal string.
func (a *applyArgs) num(n int64) byte {
	for _, x := range a.nums {
		if x.n == n {
			return x.ref
		}
	}
	r := a.ref(strconv.FormatInt(n, 10))
	a.nums = append(a.nums, numRef{n, r})
	return r
}

// count appends a count, which must fit in a byte.
func (a *applyArgs) count(n int) {
	if n > 255 {
		a.full = true
		return
	}
	a.shape = append(a.shape, byte(n))
}

// add appends refs.
func (a *applyArgs) add(refs ...byte) { a.shape = append(a.shape, refs...) }

// item is one write of a section of applyScript grouped by key: its key's
// ref, its flag, and the pair it adds.
type item struct{ key, flag, x, y byte }

// grouped appends a section of items, one command a key (and flag), in
// the order their keys came first: the count of keys, then each key's
// ref, its flag when flagged, and its count of pairs and pairs, in order.
// With last, a pair whose x a later pair of the key has too is left out
// (a hash's field: the last value given).
func (a *applyArgs) grouped(items []item, flagged, last bool) {
	keys := 0
	for i, it := range items {
		if first(items[:i], it) {
			keys++
		}
	}
	a.count(keys)
	for i, it := range items {
		if !first(items[:i], it) {
			continue
		}
		a.add(it.key)
		if flagged {
			a.add(it.flag)
		}
		at := len(a.shape)
		a.add(0)
		n := 0
		for j := i; j < len(items); j++ {
			if o := items[j]; o.key == it.key && o.flag == it.flag && !(last && later(items[j+1:], o)) {
				a.add(o.x, o.y)
				n++
			}
		}
		if n > 255 {
			a.full = true
		}
		a.shape[at] = byte(n)
	}
}

// first reports whether no item of before has its key and flag.
func first(before []item, it item) bool {
	for _, o := range before {
		if o.key == it.key && o.flag == it.flag {
			return false
		}
	}
	return true
}

// later reports whether an item of after has its key, flag and x.
func later(after []item, it item) bool {
	for _, o := range after {
		if o.key == it.key && o.flag == it.flag && o.x == it.x {
			return true
		}
	}
	return false
}

// build makes a change's arguments; it reports false when they do not fit.
func (a *applyArgs) build(c *CRM, ch *store.CRMChange, planned string, claim bool) bool {
	a.shape, a.strs, a.nums = a.room.shape[:0], a.room.strs[:0], a.room.nums[:0]
	a.strs = append(a.strs, c.p)
	var idem, ttl, done byte
	if ch.Key != "" {
		idem, ttl, done = a.ref(c.idemKey(ch.Key)), a.num(c.keyTTL(ch).Milliseconds()), a.ref("d"+ch.Done)
	}
	var flag byte
	if claim {
		flag = 1
	}
	a.add(flag, idem, ttl, done)
	empty := a.ref("")
	a.count(len(ch.Records))
	for _, r := range ch.Records {
		if r.Old == "" {
			// A new record: its final form at once; the pending form a
			// plan found under way may have written counts as old.
			also := empty
			if planned != "" {
				also = a.ref(store.PendingRecordForm(ch.Planned, r.New))
			}
			a.add(a.ref(r.Name), empty, a.ref(r.New), also)
		}
	}
	for _, r := range ch.Records {
		if r.Old != "" {
			a.add(a.ref(r.Name), a.ref(r.Old), a.ref(r.New), empty)
		}
	}
	a.count(len(ch.Indexes))
	for _, x := range ch.Indexes {
		a.add(a.ref(c.indexKey(x.Name)), a.ref(x.Old), a.ref(x.New))
	}
	a.count(len(ch.Chats))
	for _, x := range ch.Chats {
		a.add(a.ref(x.Conv), a.ref(x.JSON))
	}
	n := max(len(ch.Listed), len(ch.Conv), len(ch.Results), len(ch.Feeds))
	var room [8]item
	items := room[:0]
	if n > len(room) {
		items = make([]item, 0, n)
	}
	for _, l := range ch.Listed {
		items = append(items, item{key: a.ref(l.Kind), x: a.num(l.Ms), y: a.ref(l.ID)})
	}
	a.grouped(items, false, false)
	items = items[:0]
	for _, f := range ch.Conv {
		items = append(items, item{key: a.ref(f.Conv), x: a.ref(f.Field), y: a.ref(f.Value)})
	}
	a.grouped(items, false, true)
	items = items[:0]
	for _, r := range ch.Results {
		items = append(items, item{key: a.ref(r.Conv), x: a.num(r.Score), y: a.ref(r.ID)})
	}
	a.grouped(items, false, false)
	items = items[:0]
	for _, f := range ch.Feeds {
		var nx byte
		if f.NX {
			nx = 1
		}
		items = append(items, item{key: a.ref(f.Owner), flag: nx, x: a.num(f.Ms), y: a.ref(f.Member)})
	}
	a.grouped(items, true, false)
	a.count(len(ch.Events))
	for _, ev := range ch.Events {
		n := c.shardOf(ev.ID)
		a.add(a.ref(c.markKey(n, ev.ID)), a.ref(c.streamKey(n)), a.num(eventMarkKeep.Milliseconds()), a.ref(ev.Type), a.ref(ev.Body), a.ref(ev.ID))
	}
	a.count(len(ch.Publish))
	for _, m := range ch.Publish {
		a.add(a.ref(m.Channel), a.ref(m.Payload))
	}
	return !a.full && len(a.shape) <= maxShape
}

// args is ARGV: the shape, then the strings, each given as a pointer to
// it (go-redis writes a *string as the string), so none is boxed.
func (a *applyArgs) args() []any {
	shape := string(a.shape)
	out := make([]any, 0, 1+len(a.strs))
	out = append(out, &shape)
	for i := range a.strs {
		out = append(out, &a.strs[i])
	}
	return out
}

func (c *CRM) keyTTL(ch *store.CRMChange) time.Duration {
	if ch.KeyTTL <= 0 {
		return 30 * 24 * time.Hour
	}
	return ch.KeyTTL
}

// eventMarkKeep is how long an event id added by a change is remembered,
// so a change applied again does not add its events twice.
const eventMarkKeep = 7 * 24 * time.Hour

// cas runs compare-and-sets in one pipeline, with what also adds; it
// returns those that succeeded, and ErrStale when any failed.
func (c *CRM) cas(ctx context.Context, steps []step, also func(goredis.Pipeliner)) ([]step, error) {
	if len(steps) == 0 && also == nil {
		return nil, nil
	}
	pipe := c.rdb.Pipeline()
	if also != nil {
		also(pipe)
	}
	cmds := make([]*goredis.Cmd, len(steps))
	for i, s := range steps {
		cmds[i] = casScript.EvalSha(ctx, pipe, []string{s.key}, s.old, s.new, s.also)
	}
	if pipe.Len() == 0 {
		return nil, nil
	}
	sent, _ := pipe.Exec(ctx)
	_ = rerunNoScript(ctx, c.rdb, sent)
	var ok []step
	var err error
	for i, cmd := range cmds {
		n, e := cmd.Int()
		switch {
		case e != nil:
			if err == nil || errors.Is(err, store.ErrStale) {
				err = e
			}
		case n == 1:
			ok = append(ok, steps[i])
		default:
			if err == nil {
				err = store.ErrStale
			}
		}
	}
	return ok, err
}

// undo reverts steps that were applied (newest first) and releases the
// idempotency key if it still holds the plan.
func (c *CRM) undo(ctx context.Context, done []step, key, planned string) error {
	ctx = context.WithoutCancel(ctx)
	var firstErr error
	for i := len(done) - 1; i >= 0; i-- {
		s := done[i]
		if err := casScript.Run(ctx, c.rdb, []string{s.key}, s.new, s.old).Err(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if key != "" {
		if err := casScript.Run(ctx, c.rdb, []string{c.idemKey(key)}, planned, "").Err(); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Conversation implements store.CRM, in one pipeline.
func (c *CRM) Conversation(ctx context.Context, conv string, indexes ...string) (map[string]string, []string, error) {
	if conv == "" && len(indexes) == 0 {
		return map[string]string{}, []string{}, nil
	}
	pipe := c.rdb.Pipeline()
	read := c.conversationIn(ctx, pipe, conv, indexes)
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, goredis.Nil) {
		return nil, nil, err
	}
	return read()
}

// conversationIn queues Conversation's reads on pipe and returns what
// answers them once pipe has run.
func (c *CRM) conversationIn(ctx context.Context, pipe goredis.Pipeliner, conv string, indexes []string) func() (map[string]string, []string, error) {
	var h *goredis.MapStringStringCmd
	if conv != "" {
		h = pipe.HGetAll(ctx, c.convKey(conv))
	}
	gets := make([]*goredis.StringCmd, len(indexes))
	for i, name := range indexes {
		gets[i] = pipe.Get(ctx, c.indexKey(name))
	}
	return func() (map[string]string, []string, error) {
		m := map[string]string{}
		if h != nil {
			var err error
			if m, err = h.Result(); err != nil {
				return nil, nil, err
			}
		}
		ids := make([]string, len(indexes))
		for i, g := range gets {
			v, err := g.Result()
			if err != nil && !errors.Is(err, goredis.Nil) {
				return nil, nil, err
			}
			ids[i] = v
		}
		return m, ids, nil
	}
}

// conversationReadScript is Conversation's read and then the records it
// names, in one script (one node only: the records' keys are known only
// once the ids are read, so they cannot be declared, and are in other
// slots): KEYS[1] the conversation's memory, KEYS[2..] index entries;
// ARGV[1] and ARGV[2] what goes before and after an id in its record's
// key. It replies {memory (HGETALL's pairs), the ids (one each, "" for
// none), id and JSON pairs ("" for a missing record)} for the ids and the
// memory's person and organization, each id once.
var conversationReadScript = newScript(`
local mem = redis.call('HGETALL', KEYS[1])
local ids, recs, seen = {}, {}, {}
local function rec(id)
  if id ~= '' and not seen[id] then
    seen[id] = true
    recs[#recs+1] = id
    recs[#recs+1] = redis.call('GET', ARGV[1] .. id .. ARGV[2]) or ''
  end
end
for i = 2, #KEYS do
  ids[i-1] = redis.call('GET', KEYS[i]) or ''
  rec(ids[i-1])
end
for i = 1, #mem, 2 do
  if mem[i] == 'person' or mem[i] == 'organization' then rec(mem[i+1]) end
end
return {mem, ids, recs}
`)

// conversationRecordsIn is conversationIn with the records the memory
// and the index entries name (as readAhead loads them), in one script on
// pipe (conversationReadScript; one node only). The returned function
// answers the memory, the ids and the records by id.
func (c *CRM) conversationRecordsIn(ctx context.Context, pipe goredis.Pipeliner, conv string, indexes []string) func() (map[string]string, []string, map[string]string, error) {
	keys := make([]string, 0, 1+len(indexes))
	keys = append(keys, c.convKey(conv))
	for _, name := range indexes {
		keys = append(keys, c.indexKey(name))
	}
	cmd := pipe.EvalSha(ctx, conversationReadScript.Hash(), keys, c.p+"{r:", "}")
	return func() (map[string]string, []string, map[string]string, error) {
		res, err := cmd.Slice()
		if err != nil {
			return nil, nil, nil, err
		}
		if len(res) != 3 {
			return nil, nil, nil, fmt.Errorf("crm store: a conversation's read answered %d parts", len(res))
		}
		mem, ids, recs := scriptStrings(res[0]), scriptStrings(res[1]), scriptStrings(res[2])
		m := make(map[string]string, len(mem)/2)
		for i := 0; i+1 < len(mem); i += 2 {
			m[mem[i]] = mem[i+1]
		}
		r := make(map[string]string, len(recs)/2)
		for i := 0; i+1 < len(recs); i += 2 {
			r[recs[i]] = recs[i+1]
		}
		if len(ids) != len(indexes) {
			return nil, nil, nil, fmt.Errorf("crm store: a conversation's read answered %d ids for %d index entries", len(ids), len(indexes))
		}
		return m, ids, r, nil
	}
}

// scriptStrings is a script's array of strings (nil for anything else).
func scriptStrings(v any) []string {
	a, _ := v.([]any)
	out := make([]string, len(a))
	for i, x := range a {
		out[i], _ = x.(string)
	}
	return out
}

// Results implements store.CRM.
func (c *CRM) Results(ctx context.Context, conv string, limit int) ([]string, error) {
	return c.rdb.ZRange(ctx, c.resultsKey(conv), 0, int64(limit-1)).Result()
}

// List implements store.CRM.
func (c *CRM) List(ctx context.Context, kind string, beforeMs int64, offset, count int) ([]string, error) {
	max := "+inf"
	if beforeMs != 0 {
		max = "(" + strconv.FormatInt(beforeMs, 10)
	}
	return c.rdb.ZRevRangeByScore(ctx, c.listKey(kind), &goredis.ZRangeBy{Min: "-inf", Max: max, Offset: int64(offset), Count: int64(count)}).Result()
}

// Count implements store.CRM.
func (c *CRM) Count(ctx context.Context, kind string) (int64, error) {
	return c.rdb.ZCard(ctx, c.listKey(kind)).Result()
}

// Feed implements store.CRM.
func (c *CRM) Feed(ctx context.Context, id string, limit int) ([]store.Scored, error) {
	zs, err := c.rdb.ZRevRangeWithScores(ctx, c.feedKey(id), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]store.Scored, len(zs))
	for i, z := range zs {
		m, _ := z.Member.(string)
		out[i] = store.Scored{Member: m, Score: z.Score}
	}
	return out, nil
}

// Chats implements store.CRM.
func (c *CRM) Chats(ctx context.Context, convs ...string) ([]string, error) {
	keys := make([]string, len(convs))
	for i, conv := range convs {
		keys[i] = c.chatKey(conv)
	}
	return c.getAll(ctx, keys)
}

// Next implements store.CRM.
func (c *CRM) Next(ctx context.Context, counter string) (int64, error) {
	return c.rdb.Incr(ctx, c.counterKey(counter)).Result()
}

// PutArchive implements store.CRM.
func (c *CRM) PutArchive(ctx context.Context, conv string, b []byte) error {
	return c.rdb.Set(ctx, c.archiveKey(conv), b, 0).Err()
}

// Archive implements store.CRM.
func (c *CRM) Archive(ctx context.Context, conv string) ([]byte, error) {
	b, err := c.rdb.Get(ctx, c.archiveKey(conv)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return b, err
}
