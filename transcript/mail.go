package transcript

import (
	"context"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors of the package. The server maps them to stable codes; their text
// is written for people.
var (
	ErrNoMail       = errors.New("email is not set up on this server")
	ErrBadAddress   = errors.New("that is not an email address")
	ErrNotEnded     = errors.New("the transcript can be emailed once the conversation has ended")
	ErrOtherAddress = errors.New("this conversation's transcript can only go to the address it was first sent to (or the one you gave us)")
	ErrTooMany      = errors.New("this conversation's transcript has already been sent as often as it can be")
	ErrBusy         = errors.New("too many transcripts are being sent right now; try again in a few minutes")
	ErrNotAgent     = errors.New("the internal copy (with private notes) only goes to the address of an agent who may read this conversation")
)

// Default limits of visitor requests (docs/protocol.md, SECURITY.md).
const (
	DefaultPerConversation = 3
	DefaultPerMinute       = 30
	DefaultKeep            = 90 * 24 * time.Hour
)

// Limits bound the mails visitors can ask for. Zero values take the
// defaults.
type Limits struct {
	// PerConversation is how many transcripts one conversation's visitor
	// may have mailed; default 3.
	PerConversation int
	// PerMinute is how many visitor transcripts all server processes
	// together send a minute (a counter in Redis, one per minute); default 30.
	PerMinute int
	// Keep is how long a conversation's count and address are kept;
	// default 90 days.
	Keep time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Quota keeps, in Redis, the address and count of each conversation's
// visitor mails and the global count per minute. It is safe for concurrent
// use by any number of processes.
type Quota struct {
	rdb redis.UniversalClient
	p   string
	lim Limits
}

// NewQuota returns a Quota on rdb whose keys start with prefix ("pb:").
func NewQuota(rdb redis.UniversalClient, prefix string, lim Limits) *Quota {
	if prefix == "" {
		prefix = "pb:"
	}
	if lim.PerConversation <= 0 {
		lim.PerConversation = DefaultPerConversation
	}
	if lim.PerMinute <= 0 {
		lim.PerMinute = DefaultPerMinute
	}
	if lim.Keep <= 0 {
		lim.Keep = DefaultKeep
	}
	if lim.Now == nil {
		lim.Now = time.Now
	}
	return &Quota{rdb: rdb, p: prefix, lim: lim}
}

// Address returns the bare, lower-case address of s, or ErrBadAddress.
func Address(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n,;") {
		return "", ErrBadAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
		return "", ErrBadAddress
	}
	return strings.ToLower(a.Address), nil
}

// claim is one atomic step on a conversation's key: the first address
// used becomes its only one; at most ARGV[2] mails.
var claim = redis.NewScript(`
local to = redis.call('HGET', KEYS[1], 'to')
if to and to ~= ARGV[1] then return 'other' end
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
if n >= tonumber(ARGV[2]) then return 'many' end
redis.call('HSET', KEYS[1], 'to', ARGV[1], 'n', n + 1)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 'ok'
`)

func (q *Quota) convKey(conv string) string { return q.p + "{c:" + conv + "}:mail" }

// Claim reserves one visitor mail of conversation conv to address to.
// known is the visitor's address the conversation already has (given to
// the widget or collected by the bot), "" if none: when there is one, only
// it is accepted; otherwise the first address used is the only one. It
// returns the normalized address, or ErrBadAddress, ErrOtherAddress,
// ErrTooMany, ErrBusy, or a store error. Release gives the claim back
// when the mail could not be sent.
func (q *Quota) Claim(ctx context.Context, conv, to, known string) (string, error) {
	addr, err := Address(to)
	if err != nil {
		return "", err
	}
	if k, err := Address(known); err == nil && k != addr {
		return "", ErrOtherAddress
	}
	res, err := claim.Run(ctx, q.rdb, []string{q.convKey(conv)}, addr, q.lim.PerConversation, q.lim.Keep.Milliseconds()).Text()
	if err != nil {
		return "", err
	}
	switch res {
	case "other":
		return "", ErrOtherAddress
	case "many":
		return "", ErrTooMany
	}
	// The global cap: one counter a minute shared by every process (its
	// own key, so no cross-slot script on a Cluster).
	minute := q.lim.Now().UTC().Unix() / 60
	key := q.p + "mail:visitor:" + strconv.FormatInt(minute, 10)
	pipe := q.rdb.TxPipeline()
	n := pipe.Incr(ctx, key)
	pipe.Expire(ctx, key, 2*time.Minute)
	if _, err := pipe.Exec(ctx); err != nil {
		q.Release(ctx, conv)
		return "", err
	}
	if n.Val() > int64(q.lim.PerMinute) {
		q.Release(ctx, conv)
		return "", ErrBusy
	}
	return addr, nil
}

// Release gives back a claim whose mail was not sent.
func (q *Quota) Release(ctx context.Context, conv string) {
	_ = q.rdb.HIncrBy(context.WithoutCancel(ctx), q.convKey(conv), "n", -1).Err()
}
