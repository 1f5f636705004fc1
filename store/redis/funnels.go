package redis

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// Funnels keeps the funnel rollup in Redis (store.Funnels), spread over
// FunnelShards shards, each in one hash slot: a conversation folds into
// its shard in one script on that shard's slot (no cross-slot step):
//
//	pb:{fn:N}:c:CONV             hash fact -> when (Unix ms), expiring
//	pb:{fn:N}:r:DAY|PB|VER|VAR   hash counter -> count, kept; a field
//	                             may name several counters (countedField)
//	pb:{fn:N}:rows               set of the shard's row ids
//
// A conversation whose session records what the funnel counted of it
// (engine.Session.Funnel: its turns folded in the turn script) has no
// facts hash: its folds are Counted, counters only.
//
// A placed id's shard (slots.go) is the one in the conversation's own
// slot, so that the turn script folds it on a Cluster too; any other id's
// is one of the first 16, by a hash of the id. Funnel reads every shard
// and adds them up.
type Funnels struct {
	rdb goredis.UniversalClient
	p   string
	// shards and rows are each shard's key prefix (shard) and its set of
	// row ids, made once: a turn's fold names them without building them.
	shards, rows [FunnelShards]string
	// rowsSent is set when the prefix holds "{fn:": a counted fold in
	// the turn script then sends the rows' key, which the script cannot
	// make from the row's (turn.lua).
	rowsSent bool
	// lastRow is each shard's last row key (rowKeyIn): a day's
	// conversations of one playbook version share their row, so a turn's
	// fold names it without building it again.
	lastRow [FunnelShards]atomic.Pointer[rowMemo]
}

// rowMemo is a row's key and the row it is of.
type rowMemo struct {
	k   store.FunnelKey
	key string
}

// FunnelShards is how many shards (slots) the funnel rollup is spread
// over: fnvShards for the ids that are not placed, PlacedShards for those
// that are.
const FunnelShards = fnvShards + PlacedShards

var _ store.Funnels = (*Funnels)(nil)

// NewFunnels returns the funnel rollup on rdb, keys starting with prefix.
func NewFunnels(rdb goredis.UniversalClient, prefix string) *Funnels {
	if prefix == "" {
		prefix = "pb:"
	}
	f := &Funnels{rdb: rdb, p: prefix, rowsSent: strings.Contains(prefix, "{fn:")}
	for n := range f.shards {
		f.shards[n] = prefix + shardTag(n)
		f.rows[n] = f.shards[n] + "rows"
	}
	return f
}

// shard is the key prefix of shard n: its tag is fn:n below fnvShards,
// then the placed shards' (placedNames).
func (f *Funnels) shard(n int) string { return f.shards[n] }

// shardTag is "{fn:N}:" of shard n (without the prefix).
func shardTag(n int) string { return shardTags[n] }

// shardTags[n] is shard n's tag and colon, made once: a placed
// conversation's turn names its shard twice (its pending set, its live
// shard channel), 2.3 allocations a turn on a Cluster when each was built.
var shardTags = func() (t [FunnelShards]string) {
	_ = placedShard // placedNames are filled by placedTags first
	for n := range t {
		name := n
		if n >= fnvShards {
			name = placedNames[n-fnvShards]
		}
		t[n] = "{fn:" + strconv.Itoa(name) + "}:"
	}
	return t
}()

// shardOf is a conversation's shard: a placed id's is in its own slot,
// any other id's one of the first fnvShards, by FNV-1a.
func shardOf(conv string) int {
	if n := placedShardOf(conv); n >= 0 {
		return n
	}
	h := fnv.New32a()
	h.Write([]byte(conv))
	return int(h.Sum32() % fnvShards)
}

func rowID(k store.FunnelKey) string { return rowKey("", k)[len("r:"):] }

// rowKey is the key of row k's counters in the shard whose key prefix is
// sh: sh, "r:" and the row's id, in one allocation.
func rowKey(sh string, k store.FunnelKey) string {
	return sh + "r:" + k.Day + "|" + k.Playbook + "|" + k.Version + "|" + k.Variant
}

// countedField is the row's field that a Counted fold adds one to: the
// counter itself when it is one, else a JSON array of the fold's counters
// in order (one HINCRBY in the turn script however many counters a turn
// has: a command run by a script costs Redis about as much as the turn's
// other work; docs/benchmarks.md, "The turn script's own cost"). No
// counter starts with "[" (each starts with its fact's kind, FunnelFacts),
// so a field that does is such an array (fieldCounters).
// It is made in one allocation; a counter with a byte that JSON escapes
// (a quote, a backslash, a control or non-ASCII byte) is encoded by
// encoding/json.
func countedField(facts []store.FunnelFact) (string, error) {
	if len(facts) == 1 {
		return facts[0].Counter, nil
	}
	n := 1
	for _, x := range facts {
		n += len(x.Counter) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte('[')
	for i, x := range facts {
		if i > 0 {
			b.WriteByte(',')
		}
		if !plainJSON(x.Counter) {
			q, err := json.Marshal(x.Counter)
			if err != nil {
				return "", err
			}
			b.Write(q)
			continue
		}
		b.WriteByte('"')
		b.WriteString(x.Counter)
		b.WriteByte('"')
	}
	b.WriteByte(']')
	return b.String(), nil
}

// plainJSON says s is a JSON string's text as it is: printable ASCII
// without a quote or a backslash (nor <, > and &, which encoding/json
// escapes too).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

// fieldCounters are the counters a row's field adds to: the field itself,
// or each counter of a countedField's array (a counter named twice adds
// twice, as two HINCRBYs would have).
func fieldCounters(field string) []string {
	if strings.HasPrefix(field, "[") {
		var counters []string
		if json.Unmarshal([]byte(field), &counters) == nil {
			return counters
		}
	}
	return []string{field}
}

// foldLua defines fold(facts, counters, rows, row, first, last): it folds
// the facts given in ARGV from index first to last (five each: name,
// counter, when (ms), since, timing) into a conversation's facts hash and its row's counters,
// and adds the row's id to the shard's set of rows when the row got a
// counter it did not have (a row's first counter is one): not again on
// every fold. It returns how many facts were new. The turn script (one
// Redis node, or a placed id on a Cluster) and foldScript both run it.
var foldLua = `
local function fold(facts, counters, rows, row, first, last)
  local bounds = {` + bucketList() + `}
  local n = 0
  local fresh = false
  for i = first, last, 5 do
    local at = ARGV[i + 2]
    if redis.call('HSETNX', facts, ARGV[i], at) == 1 then
      if redis.call('HINCRBY', counters, ARGV[i + 1], 1) == 1 then fresh = true end
      n = n + 1
      if ARGV[i + 3] ~= '' then
        local t0 = redis.call('HGET', facts, ARGV[i + 3])
        if t0 then
          local d = tonumber(at) - tonumber(t0)
          local b = 'inf'
          for _, ub in ipairs(bounds) do
            if d <= ub then b = tostring(ub) break end
          end
          if redis.call('HINCRBY', counters, ARGV[i + 4] .. '|' .. b, 1) == 1 then fresh = true end
        end
      end
    end
  end
  if fresh then redis.call('SADD', rows, row) end
  return n
end
`

// foldScript folds facts into one shard.
// KEYS[1] the conversation's facts, KEYS[2] the row's counters, KEYS[3]
// the shard's row ids. ARGV[1] row id, ARGV[2] keep (ms), then per fact:
// name, counter, when (ms), since, timing. Replies how many facts were new.
var foldScript = newScript(foldLua + `
local n = fold(KEYS[1], KEYS[2], KEYS[3], ARGV[1], 3, #ARGV)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
`)

func bucketList() string {
	var b strings.Builder
	for i, ms := range store.FunnelBuckets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatInt(ms, 10))
	}
	return b.String()
}

// Fold implements store.Funnels.
func (f *Funnels) Fold(ctx context.Context, conv string, key store.FunnelKey, facts []store.FunnelFact, keep time.Duration, done string) error {
	if len(facts) == 0 {
		if done != "" {
			return f.rdb.ZRem(ctx, pendingKeyOf(f.p, done), done).Err()
		}
		return nil
	}
	keys, args := f.foldArgs(conv, key, facts, keep)
	if done == "" {
		return foldScript.Run(ctx, f.rdb, keys, args...).Err()
	}
	// The fold, then the mark (the pending set of Store, pending.go), in
	// one round trip; a pipeline is no transaction: a failed fold puts the
	// mark back.
	for try := 0; ; try++ {
		pipe := f.rdb.Pipeline()
		fold := pipe.EvalSha(ctx, foldScript.Hash(), keys, args...)
		pipe.ZRem(ctx, pendingKeyOf(f.p, done), done)
		_, _ = pipe.Exec(ctx)
		err := fold.Err()
		if err != nil && try == 0 && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := foldScript.Load(ctx, f.rdb).Err(); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return errors.Join(err, f.rdb.ZAdd(ctx, pendingKeyOf(f.p, done), goredis.Z{Score: float64(time.Now().UnixMilli()), Member: done}).Err())
		}
		return nil
	}
}

func (f *Funnels) foldArgs(conv string, key store.FunnelKey, facts []store.FunnelFact, keep time.Duration) ([]string, []any) {
	keys, id := f.foldKeys(nil, conv, key)
	args := make([]any, 0, 2+5*len(facts))
	args = append(args, id, max(keep.Milliseconds(), 1))
	return keys, appendFacts(args, facts)
}

// foldKeys appends to keys the fold's three keys of conversation conv's
// facts under key (its facts, its row's counters, its shard's rows), and
// returns the row's id.
func (f *Funnels) foldKeys(keys []string, conv string, key store.FunnelKey) ([]string, string) {
	n := shardOf(conv)
	sh, id := f.shard(n), rowID(key)
	return append(keys, sh+"c:"+conv, sh+"r:"+id, f.rows[n]), id
}

// countedKeys appends to keys a Counted fold's three keys (foldKeys's) of
// conversation conv under key, in one allocation: the row's key stands
// for the conversation's facts, which a Counted fold neither reads nor
// writes (turn.lua), and no row id is made (the script takes it from the
// row's key).
func (f *Funnels) countedKeys(keys []string, conv string, key store.FunnelKey) []string {
	n := shardOf(conv)
	row := f.rowKeyIn(n, key)
	return append(keys, row, row, f.rows[n])
}

// rowKeyIn is rowKey(f.shard(n), k), kept as shard n's last row: no
// allocation when the shard's turn before was of the same row, two (the
// key and its memo) when not.
func (f *Funnels) rowKeyIn(n int, k store.FunnelKey) string {
	if m := f.lastRow[n].Load(); m != nil && m.k == k {
		return m.key
	}
	key := rowKey(f.shard(n), k)
	f.lastRow[n].Store(&rowMemo{k: k, key: key})
	return key
}

// appendFacts appends to args the fold's five arguments of each fact:
// name, counter, when (ms), since, timing. A counter that is its fact's
// name, and a time that is the fact before's (a turn's facts share the
// turn's), reuse that value as it is already boxed: no allocation each.
func appendFacts(args []any, facts []store.FunnelFact) []any {
	var at any
	var atMS int64
	for i, x := range facts {
		name := any(x.Name)
		counter := name
		if x.Counter != x.Name {
			counter = x.Counter
		}
		if ms := x.At.UnixMilli(); i == 0 || ms != atMS {
			at, atMS = ms, ms
		}
		args = append(args, name, counter, at, x.Since, x.Timing)
	}
	return args
}

// FoldMany implements store.Funnels: one pipeline of fold scripts (a
// Cluster client sends each node its part) and one ZREM of the folds'
// marks per pending set after them; the marks of the folds that failed are put back (a
// pipeline is no transaction). A node that did not know the script gets
// it loaded, and its folds go again, once.
func (f *Funnels) FoldMany(ctx context.Context, folds []store.FunnelFold, keep time.Duration) []error {
	errs := make([]error, len(folds))
	todo := make([]int, 0, len(folds))
	for i := range folds {
		todo = append(todo, i)
	}
	for try := 0; len(todo) > 0; try++ {
		pipe := f.rdb.Pipeline()
		cmds := make([]*goredis.Cmd, len(todo))
		var marks []string
		for j, i := range todo {
			x := folds[i]
			if len(x.Facts) > 0 {
				keys, args := f.foldArgs(x.Conv, x.Key, x.Facts, keep)
				cmds[j] = pipe.EvalSha(ctx, foldScript.Hash(), keys, args...)
			}
			marks = append(marks, x.Done)
		}
		// One ZREM per pending set (pending.go).
		zrem := map[string]*goredis.IntCmd{}
		keys, members := byPendingKey(f.p, marks)
		for k, key := range keys {
			zrem[key] = pipe.ZRem(ctx, key, members[k]...)
		}
		_, _ = pipe.Exec(ctx)
		var again []int
		for j, i := range todo {
			if cmds[j] != nil {
				errs[i] = cmds[j].Err()
			}
			if errs[i] == nil && folds[i].Done != "" {
				errs[i] = zrem[pendingKeyOf(f.p, folds[i].Done)].Err()
			}
			if errs[i] != nil && try == 0 && goredis.HasErrorPrefix(errs[i], "NOSCRIPT") {
				again = append(again, i)
			}
		}
		if len(again) == 0 {
			break
		}
		if err := foldScript.Load(ctx, f.rdb).Err(); err != nil {
			for _, i := range again {
				errs[i] = err
			}
			break
		}
		todo = again
	}
	var back []string
	var at []int
	for i, x := range folds {
		if errs[i] != nil && x.Done != "" {
			back = append(back, x.Done)
			at = append(at, i)
		}
	}
	if len(back) > 0 {
		now := float64(time.Now().UnixMilli())
		pipe := f.rdb.Pipeline()
		zadd := map[string]*goredis.IntCmd{}
		keys, members := byPendingKey(f.p, back)
		for k, key := range keys {
			zs := make([]goredis.Z, len(members[k]))
			for j, m := range members[k] {
				zs[j] = goredis.Z{Score: now, Member: m}
			}
			zadd[key] = pipe.ZAdd(ctx, key, zs...)
		}
		_, _ = pipe.Exec(ctx)
		for j, i := range at {
			if err := zadd[pendingKeyOf(f.p, back[j])].Err(); err != nil {
				errs[i] = errors.Join(errs[i], err)
			}
		}
	}
	return errs
}

// Funnel implements store.Funnels.
func (f *Funnels) Funnel(ctx context.Context, q store.FunnelQuery) ([]store.FunnelRow, error) {
	pipe := f.rdb.Pipeline()
	ids := make([]*goredis.StringSliceCmd, FunnelShards)
	for n := range FunnelShards {
		ids[n] = pipe.SMembers(ctx, f.shard(n)+"rows")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	type read struct {
		key store.FunnelKey
		cmd *goredis.MapStringStringCmd
	}
	var reads []read
	pipe = f.rdb.Pipeline()
	for n, cmd := range ids {
		for _, id := range cmd.Val() {
			parts := strings.SplitN(id, "|", 4)
			if len(parts) != 4 {
				continue
			}
			k := store.FunnelKey{Day: parts[0], Playbook: parts[1], Version: parts[2], Variant: parts[3]}
			if k.Day < q.Since || (q.Playbook != "" && q.Playbook != k.Playbook) {
				continue
			}
			reads = append(reads, read{k, pipe.HGetAll(ctx, f.shard(n)+"r:"+id)})
		}
	}
	if len(reads) == 0 {
		return nil, nil
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	// The shards' counters of one row add up.
	type cell struct {
		key     store.FunnelKey
		counter string
	}
	sum := map[cell]int64{}
	for _, r := range reads {
		for field, v := range r.cmd.Val() {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			for _, counter := range fieldCounters(field) {
				sum[cell{r.key, counter}] += n
			}
		}
	}
	out := make([]store.FunnelRow, 0, len(sum))
	for c, n := range sum {
		out = append(out, store.FunnelRow{FunnelKey: c.key, Counter: c.counter, Count: n})
	}
	return out, nil
}
