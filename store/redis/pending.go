package redis

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// The pending sets hold the turns whose work after the store (records, a
// chat to queue, its timer) may not be done yet: Options.Pending marks
// them with the turn, Done clears the mark, and ClaimPending hands the
// marks a dead process left behind to one process to finish. Each is a
// sorted set (member conversation|nonce, score: when the mark was made or
// last claimed). A placed conversation's marks (slots.go) are in the set
// of its own slot, pb:{fn:N}:pending with its funnel shard, so that its
// turn script writes its mark on a Cluster as on one node; any other
// conversation's in pb:pending. ClaimPending and PendingCount read them
// all: PlacedShards + 1 sets (on one node in one script, the shards' only
// when one exists).

// pendingKeyOf is the pending set of a mark (conversation|nonce).
func pendingKeyOf(prefix, mark string) string {
	conv, _, _ := strings.Cut(mark, "|")
	if n := placedShardOf(conv); n >= 0 {
		return prefix + shardTag(n) + "pending"
	}
	return prefix + "pending"
}

// pendingKeys are every pending set: pb:pending, then the placed shards'.
func pendingKeys(prefix string) []string {
	keys := make([]string, 0, 1+PlacedShards)
	keys = append(keys, prefix+"pending")
	for n := fnvShards; n < FunnelShards; n++ {
		keys = append(keys, prefix+shardTag(n)+"pending")
	}
	return keys
}

func (s *Store) markKey(mark string) string { return pendingKeyOf(s.prefix, mark) }

// byPendingKey groups marks by their pending set, in the order first met.
func byPendingKey(prefix string, marks []string) (keys []string, members [][]any) {
	at := map[string]int{}
	for _, m := range marks {
		if m == "" {
			continue
		}
		k := pendingKeyOf(prefix, m)
		i, ok := at[k]
		if !ok {
			i = len(keys)
			at[k] = i
			keys = append(keys, k)
			members = append(members, nil)
		}
		members[i] = append(members[i], m)
	}
	return keys, members
}

func newNonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runWith runs the turn script in one pipeline with what must share its
// round trip: on a Cluster, the turn's pending mark (mark, "" for none),
// which is in another slot than the conversation's keys (on one node the
// script marks the turn itself); the reads the turn's step asked for
// (reads, nil for none), after the turn, their results set on reads; and
// a start's visitor's list (rec, nil for none; CreateStarted on a
// Cluster), read and added to.
func (s *Store) runWith(ctx context.Context, id, mark string, keys []string, args []any, reads *store.TurnReads, rec *startRecord) ([]any, error) {
	for try := 0; ; try++ {
		pipe := s.pipeline()
		turn := turnScript.evalCmd(ctx, false, keys, args)
		_ = pipe.Process(ctx, turn)
		if mark != "" {
			pipe.ZAdd(ctx, s.markKey(mark), goredis.Z{Score: float64(s.now().UnixMilli()), Member: mark})
		}
		if rec != nil && rec.key != "" {
			rec.visitorIn(ctx, pipe, id)
		}
		var inbox func() (*store.Conversation, error)
		var crm func() (map[string]string, []string, error)
		var withRecords func() (map[string]string, []string, map[string]string, error)
		var fields *goredis.MapStringStringCmd
		var prev []*goredis.SliceCmd
		if reads.Wanted() {
			if reads.Inbox {
				fields = pipe.HGetAll(ctx, s.inbox.metaKey(id))
				inbox = s.inbox.conversationOf(id, fields)
				prev = prev[:0]
				for _, p := range reads.Previous {
					prev = append(prev, pipe.HMGet(ctx, s.inbox.metaKey(p), "status", "team", "assignee"))
				}
			}
			if _, cluster := s.rdb.(*goredis.ClusterClient); reads.CRM && reads.CRMRecords && !cluster {
				// One node: the records the ids name in the same
				// round trip (a script of its own).
				withRecords = s.crm.conversationRecordsIn(ctx, pipe, id, reads.CRMIndexes)
			} else if reads.CRM {
				crm = s.crm.conversationIn(ctx, pipe, id, reads.CRMIndexes)
			}
		}
		_, _ = pipe.Exec(ctx)
		s.pipes.Put(pipe) // empty again (Exec); its commands are read below
		if rec != nil && rec.key != "" && rec.adding.Val() == 1 {
			rec.added = true
		}
		err := turn.Err()
		if err != nil && try == 0 && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := turnScript.s.Load(ctx, s.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if inbox != nil || crm != nil || withRecords != nil {
			reads.Read = true
			if inbox != nil {
				reads.InboxRecord, reads.InboxErr = inbox()
				if reads.InboxErr == nil {
					reads.InboxFields = fields.Val()
					reads.PreviousFields = previousFields(prev)
				}
			}
			if crm != nil {
				reads.CRMMemory, reads.CRMIDs, reads.CRMErr = crm()
			}
			if withRecords != nil {
				reads.CRMMemory, reads.CRMIDs, reads.CRMRecordsRead, reads.CRMErr = withRecords()
				if goredis.HasErrorPrefix(reads.CRMErr, "NOSCRIPT") && conversationReadScript.Load(ctx, s.rdb).Err() == nil {
					// A node without the script (restarted since the
					// first Ping): the read alone again, once (the turn
					// is written: the pipeline is not run again).
					again := s.rdb.Pipeline()
					read := s.crm.conversationRecordsIn(ctx, again, id, reads.CRMIndexes)
					_, _ = again.Exec(ctx)
					reads.CRMMemory, reads.CRMIDs, reads.CRMRecordsRead, reads.CRMErr = read()
				}
			}
		}
		return turn.Slice()
	}
}

// pipeline is a go-redis pipeline the store keeps (pipes), or a new one:
// a new pipeline is the pipeline and three functions bound to it. Put it
// back in s.pipes once Exec has run (which leaves it empty), and only
// then.
func (s *Store) pipeline() goredis.Pipeliner {
	if p, ok := s.pipes.Get().(goredis.Pipeliner); ok {
		return p
	}
	return s.rdb.Pipeline()
}

// Done clears a turn's pending mark (Result.Pending) once its work is
// done. An empty mark is a no-op.
func (s *Store) Done(ctx context.Context, mark string) error {
	if mark == "" {
		return nil
	}
	return s.rdb.ZRem(ctx, s.markKey(mark), mark).Err()
}

// DoneMany clears many marks: one ZREM per pending set, in one pipeline.
func (s *Store) DoneMany(ctx context.Context, marks []string) error {
	keys, members := byPendingKey(s.prefix, marks)
	switch len(keys) {
	case 0:
		return nil
	case 1:
		return s.rdb.ZRem(ctx, keys[0], members[0]...).Err()
	}
	pipe := s.rdb.Pipeline()
	for i, k := range keys {
		pipe.ZRem(ctx, k, members[i]...)
	}
	_, err := pipe.Exec(ctx)
	return err
}

// DoneIn is Done queued on pipe, to share a round trip with the turn's
// last piece of work (which must come first in pipe: a pipeline is not a
// transaction, so a caller whose work failed puts the mark back with
// Mark). An empty mark queues nothing.
func (s *Store) DoneIn(ctx context.Context, pipe goredis.Pipeliner, mark string) {
	if mark != "" {
		pipe.ZRem(ctx, s.markKey(mark), mark)
	}
}

// Mark puts a turn's pending mark back (now, on Options.Now), after a DoneIn whose work
// failed: the sweep will finish the turn.
func (s *Store) Mark(ctx context.Context, mark string) error {
	if mark == "" {
		return nil
	}
	return s.rdb.ZAdd(ctx, s.markKey(mark), goredis.Z{Score: float64(s.now().UnixMilli()), Member: mark}).Err()
}

var claimPending = newScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', '0', ARGV[2], 'WITHSCORES')
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ARGV[3], due[i]) end
return due
`)

// claimAllPending is claimPending in every pending set of one Redis
// node, in one script (KEYS: pendingKeys, pb:pending first; ARGV as
// claimPending's): pb:pending, and the placed shards' sets only when one
// of them exists (one EXISTS: on one node ids are not placed, and the
// shards' sets are empty). It replies three values a claimed mark: its
// set's index in KEYS, the mark, its time before.
var claimAllPending = newScript(`
local out = {}
local function claim(i)
  local due = redis.call('ZRANGE', KEYS[i], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', '0', ARGV[2], 'WITHSCORES')
  for j = 1, #due, 2 do
    redis.call('ZADD', KEYS[i], ARGV[3], due[j])
    out[#out + 1] = tostring(i)
    out[#out + 1] = due[j]
    out[#out + 1] = due[j + 1]
  end
end
claim(1)
if #KEYS > 1 and redis.call('EXISTS', unpack(KEYS, 2)) > 0 then
  for i = 2, #KEYS do claim(i) end
end
return out
`)

// countAllPending is PendingCount on one Redis node, in one script (KEYS:
// pendingKeys): the shards' sets counted only when one exists.
var countAllPending = newScript(`
local n = redis.call('ZCARD', KEYS[1])
if #KEYS > 1 and redis.call('EXISTS', unpack(KEYS, 2)) > 0 then
  for i = 2, #KEYS do n = n + redis.call('ZCARD', KEYS[i]) end
end
return n
`)

// Pending is a turn whose work may not be done (store.Pending).
type Pending = store.Pending

// ClaimPending returns up to n marks older than before, and makes them
// new (now) so that no other process claims them for a while: whoever
// claims a mark finishes the turn's work and calls Done; if it dies too,
// the mark comes back later. It claims up to n of each pending set in one
// pipeline, keeps the n oldest, and gives the others back their times
// (a second round trip, only when more than n were due).
func (s *Store) ClaimPending(ctx context.Context, before, now time.Time, n int) ([]Pending, error) {
	if n <= 0 {
		return nil, nil
	}
	type claimed struct {
		key, mark string
		at        float64
	}
	var all []claimed
	var errs []error
	todo := pendingKeys(s.prefix)
	if s.oneNode {
		// One script for every set (claimAllPending).
		vals, err := claimAllPending.Run(ctx, s.rdb, todo, before.UnixMilli(), n, now.UnixMilli()).StringSlice()
		if err != nil {
			return nil, err
		}
		for j := 0; j+2 < len(vals); j += 3 {
			i, _ := strconv.Atoi(vals[j])
			at, _ := strconv.ParseFloat(vals[j+2], 64)
			if i >= 1 && i <= len(todo) {
				all = append(all, claimed{todo[i-1], vals[j+1], at})
			}
		}
		todo = nil
	}
	for try := 0; len(todo) > 0; try++ {
		pipe := s.rdb.Pipeline()
		cmds := make([]*goredis.Cmd, len(todo))
		for i, k := range todo {
			cmds[i] = pipe.EvalSha(ctx, claimPending.Hash(), []string{k}, before.UnixMilli(), n, now.UnixMilli())
		}
		_, _ = pipe.Exec(ctx)
		var again []string
		for i, c := range cmds {
			vals, err := c.StringSlice()
			if err != nil && try == 0 && goredis.HasErrorPrefix(err, "NOSCRIPT") {
				// A node that did not know the script: loaded, its sets
				// claimed again (nothing was claimed there).
				again = append(again, todo[i])
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for j := 0; j+1 < len(vals); j += 2 {
				at, _ := strconv.ParseFloat(vals[j+1], 64)
				all = append(all, claimed{todo[i], vals[j], at})
			}
		}
		if len(again) > 0 {
			if err := claimPending.Load(ctx, s.rdb).Err(); err != nil {
				errs = append(errs, err)
				break
			}
		}
		todo = again
	}
	if len(all) > n {
		slices.SortFunc(all, func(a, b claimed) int { return cmp.Compare(a.at, b.at) })
		// The marks not returned get their times back (XX: unless done
		// meanwhile).
		back := s.rdb.Pipeline()
		for _, c := range all[n:] {
			back.ZAddXX(ctx, c.key, goredis.Z{Score: c.at, Member: c.mark})
		}
		if _, err := back.Exec(ctx); err != nil {
			errs = append(errs, err)
		}
		all = all[:n]
	}
	out := make([]Pending, 0, len(all))
	for _, c := range all {
		conv, _, _ := strings.Cut(c.mark, "|")
		out = append(out, Pending{Conversation: conv, Mark: c.mark})
	}
	if len(out) == 0 && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// PendingCount is how many marks the pending sets hold.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	keys := pendingKeys(s.prefix)
	if s.oneNode {
		return countAllPending.Run(ctx, s.rdb, keys).Int64()
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*goredis.IntCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.ZCard(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var sum int64
	for _, c := range cmds {
		sum += c.Val()
	}
	return sum, nil
}
