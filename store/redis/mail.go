package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/store"
)

// MailQuota counts visitors' transcript mails in Redis (store.MailQuota):
// a conversation's count beside its keys (pb:{c:ID}:mail), and one counter
// per period in its own key.
type MailQuota struct {
	rdb goredis.UniversalClient
	p   string
}

var _ store.MailQuota = (*MailQuota)(nil)

// NewMailQuota returns the mail counts on rdb, keys starting with prefix.
func NewMailQuota(rdb goredis.UniversalClient, prefix string) *MailQuota {
	if prefix == "" {
		prefix = "pb:"
	}
	return &MailQuota{rdb: rdb, p: prefix}
}

// mailClaimScript is one atomic step on a conversation's key: the first
// address used becomes its only one; at most ARGV[2] mails.
var mailClaimScript = newScript(`
local to = redis.call('HGET', KEYS[1], 'to')
if to and to ~= ARGV[1] then return 'other' end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n >= tonumber(ARGV[2]) then return 'many' end
redis.call('HSET', KEYS[1], 'to', ARGV[1], 'n', n + 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'ok'
`)

func (q *MailQuota) convKey(conv string) string { return q.p + "{c:" + conv + "}:mail" }

// ClaimMail implements store.MailQuota.
func (q *MailQuota) ClaimMail(ctx context.Context, conv, addr string, max int, keep time.Duration) (string, error) {
	return mailClaimScript.Run(ctx, q.rdb, []string{q.convKey(conv)}, addr, max, keep.Milliseconds()).Text()
}

// ReleaseMail implements store.MailQuota.
func (q *MailQuota) ReleaseMail(ctx context.Context, conv string) error {
	return q.rdb.HIncrBy(ctx, q.convKey(conv), "n", -1).Err()
}

// CountMail implements store.MailQuota.
func (q *MailQuota) CountMail(ctx context.Context, period string, keep time.Duration) (int64, error) {
	key := q.p + "mail:visitor:" + period
	pipe := q.rdb.TxPipeline()
	n := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, keep)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	return n.Val(), nil
}
