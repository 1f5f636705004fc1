package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// The pending set holds the turns whose work after the store (records, a
// chat to queue, its timer) may not be done yet: Options.Pending marks
// them with the turn, Done clears the mark, and ClaimPending hands the
// marks a dead process left behind to one process to finish. It is one
// sorted set (member conversation|nonce, score: when the mark was made or
// last claimed), so it lives on one Redis Cluster node.

func (s *Store) pendingKey() string { return s.prefix + "pending" }

func newNonce() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// runMarked runs the turn script and marks the turn pending, in one
// pipeline: on a Cluster, where the pending set is in another slot than
// the conversation's keys (on one node the script marks the turn itself).
func (s *Store) runMarked(ctx context.Context, id, mark string, keys []string, args []any) ([]any, error) {
	for try := 0; ; try++ {
		pipe := s.rdb.Pipeline()
		turn := pipe.EvalSha(ctx, turnScript.Hash(), keys, args...)
		pipe.ZAdd(ctx, s.pendingKey(), goredis.Z{Score: float64(s.now().UnixMilli()), Member: mark})
		_, _ = pipe.Exec(ctx)
		err := turn.Err()
		if err != nil && try == 0 && goredis.HasErrorPrefix(err, "NOSCRIPT") {
			if err := turnScript.Load(ctx, s.rdb).Err(); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return turn.Slice()
	}
}

// Done clears a turn's pending mark (Result.Pending) once its work is
// done. An empty mark is a no-op.
func (s *Store) Done(ctx context.Context, mark string) error {
	if mark == "" {
		return nil
	}
	return s.rdb.ZRem(ctx, s.pendingKey(), mark).Err()
}

// DoneMany clears many marks in one ZREM.
func (s *Store) DoneMany(ctx context.Context, marks []string) error {
	members := make([]any, 0, len(marks))
	for _, m := range marks {
		if m != "" {
			members = append(members, m)
		}
	}
	if len(members) == 0 {
		return nil
	}
	return s.rdb.ZRem(ctx, s.pendingKey(), members...).Err()
}

// DoneIn is Done queued on pipe, to share a round trip with the turn's
// last piece of work (which must come first in pipe: a pipeline is not a
// transaction, so a caller whose work failed puts the mark back with
// Mark). An empty mark queues nothing.
func (s *Store) DoneIn(ctx context.Context, pipe goredis.Pipeliner, mark string) {
	if mark != "" {
		pipe.ZRem(ctx, s.pendingKey(), mark)
	}
}

// Mark puts a turn's pending mark back (now, on Options.Now), after a DoneIn whose work
// failed: the sweep will finish the turn.
func (s *Store) Mark(ctx context.Context, mark string) error {
	if mark == "" {
		return nil
	}
	return s.rdb.ZAdd(ctx, s.pendingKey(), goredis.Z{Score: float64(s.now().UnixMilli()), Member: mark}).Err()
}

var claimPending = goredis.NewScript(`
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[3], m) end
return due
`)

// Pending is a turn whose work may not be done (store.Pending).
type Pending = store.Pending

// ClaimPending returns up to n marks older than before, and makes them
// new (now) so that no other process claims them for a while: whoever
// claims a mark finishes the turn's work and calls Done; if it dies too,
// the mark comes back later.
func (s *Store) ClaimPending(ctx context.Context, before, now time.Time, n int) ([]Pending, error) {
	ms, err := claimPending.Run(ctx, s.rdb, []string{s.pendingKey()}, before.UnixMilli(), n, now.UnixMilli()).StringSlice()
	if err != nil {
		return nil, err
	}
	out := make([]Pending, 0, len(ms))
	for _, m := range ms {
		conv, _, _ := strings.Cut(m, "|")
		out = append(out, Pending{Conversation: conv, Mark: m})
	}
	return out, nil
}

// PendingCount is how many marks the pending set holds.
func (s *Store) PendingCount(ctx context.Context) (int64, error) {
	return s.rdb.ZCard(ctx, s.pendingKey()).Result()
}
