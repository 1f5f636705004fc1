package crm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// DeliveryOptions configure webhook delivery. Zero values take the
// defaults in the field comments.
type DeliveryOptions struct {
	// Consumer names this process in the outbox's consumer group; default
	// host-pid-random.
	Consumer string
	// RetryBase is the ceiling of the first retry's wait; each failure
	// doubles it, up to RetryCap. Default 30s.
	RetryBase time.Duration
	// RetryCap is the longest wait between two attempts; default 1h.
	RetryCap time.Duration
	// MaxAge is how long a delivery keeps being retried after its first
	// attempt before it goes to the dead-letter list; default 24h.
	MaxAge time.Duration
	// Timeout bounds one attempt (connect, send, answer); default 10s.
	Timeout time.Duration
	// Lease is how long a process holds a delivery it works on before
	// another may take it over; default Timeout + 20s. Keep it above
	// Timeout, or two processes could send the same delivery at once.
	Lease time.Duration
	// ClaimIdle is how long an outbox event may stay read but unhandled
	// (its process died) before another process takes it over; default 1m.
	ClaimIdle time.Duration
	// Poll is how often due retries are looked for, and how long a read of
	// the outbox blocks; default 500ms.
	Poll time.Duration
	// Workers is how many deliveries one process sends at once; default 4.
	Workers int
	// Client sends the requests; default a client with Timeout that
	// follows no redirects.
	Client *http.Client
	// Logger receives delivery failures; default slog.Default().
	Logger *slog.Logger
}

func (o *DeliveryOptions) defaults() {
	if o.Consumer == "" {
		host, _ := os.Hostname()
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 30 * time.Second
	}
	if o.RetryCap <= 0 {
		o.RetryCap = time.Hour
	}
	if o.RetryCap < o.RetryBase {
		o.RetryCap = o.RetryBase
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Lease <= o.Timeout {
		o.Lease = o.Timeout + 20*time.Second
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Client == nil {
		o.Client = &http.Client{
			Timeout:       o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// group is the outbox's consumer group.
const group = "webhooks"

// keepDone is how long a finished delivery and its event are kept.
const keepDone = 7 * 24 * time.Hour

// Headers of a webhook request.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderTimestamp      = "X-Playbook-Timestamp"
	HeaderSignature      = "X-Playbook-Signature"
	HeaderEvent          = "X-Playbook-Event"
	HeaderAttempt        = "X-Playbook-Attempt"
)

// Sign returns the X-Playbook-Signature value for a body sent at ts (Unix
// seconds): "sha256=" and the hex HMAC-SHA256, keyed with the secret, of
// the timestamp, a dot and the body.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook request's signature and that its timestamp is
// within tolerance of now (0: any time), as a receiver written in Go would.
func Verify(secret, signature, timestamp string, body []byte, now time.Time, tolerance time.Duration) error {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return errors.New("webhook: bad timestamp")
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
			return errors.New("webhook: timestamp outside the tolerance")
		}
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature)) {
		return errors.New("webhook: signature does not match")
	}
	return nil
}

// Dispatcher delivers the outbox's events to the webhooks. Every server
// process runs one; they share the work through Redis.
type Dispatcher struct {
	s   *Store
	o   DeliveryOptions
	log *slog.Logger
	sem chan struct{}
	wg  sync.WaitGroup
	seq uint64
	mu  sync.Mutex

	subsAt time.Time
	subs   []*Subscription
}

// Dispatcher returns a dispatcher for the store's outbox.
func (s *Store) Dispatcher(o DeliveryOptions) *Dispatcher {
	o.defaults()
	return &Dispatcher{s: s, o: o, log: o.Logger, sem: make(chan struct{}, o.Workers)}
}

// Options returns the dispatcher's options with their defaults filled in.
func (d *Dispatcher) Options() DeliveryOptions { return d.o }

// Run delivers until ctx is done, then waits for the attempts under way.
// It reads new events from the outbox with the consumer group, takes over
// events another process read and never finished (after ClaimIdle), and
// sends the retries that came due.
func (d *Dispatcher) Run(ctx context.Context) error {
	if err := d.ensureGroup(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("webhook outbox: creating the consumer group", "err", err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); d.readLoop(ctx) }()
	go func() { defer wg.Done(); d.dueLoop(ctx) }()
	wg.Wait()
	d.wg.Wait()
	return nil
}

func (d *Dispatcher) ensureGroup(ctx context.Context) error {
	err := d.s.rdb.XGroupCreateMkStream(ctx, d.s.outboxKey(), group, "0").Err()
	if err != nil && strings.Contains(err.Error(), "BUSYGROUP") {
		return nil
	}
	return err
}

// readLoop reads the outbox and fans each event out into deliveries.
func (d *Dispatcher) readLoop(ctx context.Context) {
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		if time.Since(lastClaim) >= max(d.o.ClaimIdle/2, d.o.Poll) {
			lastClaim = time.Now()
			d.takeOver(ctx)
		}
		streams, err := d.s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: group, Consumer: d.o.Consumer, Streams: []string{d.s.outboxKey(), ">"}, Count: 16, Block: d.o.Poll,
		}).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if strings.Contains(err.Error(), "NOGROUP") {
				_ = d.ensureGroup(ctx)
			} else {
				d.log.Warn("webhook outbox: reading", "err", err)
			}
			sleep(ctx, d.o.Poll)
			continue
		}
		for _, st := range streams {
			for _, m := range st.Messages {
				d.fanOut(ctx, m)
			}
		}
	}
}

// takeOver claims events other consumers read more than ClaimIdle ago
// and never acknowledged (their process died mid-way), and fans them out.
func (d *Dispatcher) takeOver(ctx context.Context) {
	start := "0-0"
	for i := 0; i < 100 && ctx.Err() == nil; i++ {
		msgs, next, err := d.s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: d.s.outboxKey(), Group: group, Consumer: d.o.Consumer, MinIdle: d.o.ClaimIdle, Start: start, Count: 16,
		}).Result()
		if err != nil {
			if ctx.Err() == nil && !strings.Contains(err.Error(), "NOGROUP") {
				d.log.Warn("webhook outbox: taking over idle events", "err", err)
			}
			return
		}
		for _, m := range msgs {
			d.log.Info("webhook outbox: took over an event another process did not finish", "entry", m.ID)
			d.fanOut(ctx, m)
		}
		if next == "0-0" || next == "" {
			return
		}
		start = next
	}
}

// fanOutScript turns one outbox event into one delivery per subscription
// that wants it, leased to the caller, and removes the event from the
// stream. A delivery that exists already (the event was fanned out before
// a crash) is left as it is.
//
//	KEYS[1] outbox stream, KEYS[2] event hash, KEYS[3] due zset,
//	KEYS[4] lease hash, KEYS[5..] delivery hashes
//	ARGV: group, entry id, event id, type, body, now ms, lease-until ms,
//	  token, then one member per delivery hash
var fanOutScript = redis.NewScript(`
local claimed = {}
local n = #KEYS - 4
for i = 1, n do
  local dk = KEYS[4 + i]
  local member = ARGV[8 + i]
  if redis.call('HSETNX', dk, 'state', 'pending') == 1 then
    local sub = string.sub(member, string.find(member, ':', 1, true) + 1)
    redis.call('HSET', dk, 'event', ARGV[3], 'sub', sub, 'type', ARGV[4], 'attempts', 0, 'first_at', ARGV[6])
    redis.call('HINCRBY', KEYS[2], 'pending', 1)
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

func (d *Dispatcher) token() string {
	d.mu.Lock()
	d.seq++
	n := d.seq
	d.mu.Unlock()
	return d.o.Consumer + "/" + strconv.FormatUint(n, 10)
}

// subscriptions returns the webhooks, read at most once a second.
func (d *Dispatcher) subscriptions(ctx context.Context) ([]*Subscription, error) {
	d.mu.Lock()
	if time.Since(d.subsAt) < time.Second && d.subs != nil {
		subs := d.subs
		d.mu.Unlock()
		return subs, nil
	}
	d.mu.Unlock()
	subs, err := d.s.Subscriptions(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.subs, d.subsAt = subs, time.Now()
	d.mu.Unlock()
	return subs, nil
}

func (d *Dispatcher) fanOut(ctx context.Context, m redis.XMessage) {
	typ, _ := m.Values["type"].(string)
	body, _ := m.Values["e"].(string)
	var head struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(body), &head) != nil || head.ID == "" {
		d.log.Error("webhook outbox: dropping a malformed event", "entry", m.ID)
		head.ID = "bad"
	}
	subs, err := d.subscriptions(ctx)
	if err != nil {
		d.log.Warn("webhook outbox: reading subscriptions", "err", err)
		return // not acknowledged: taken over later
	}
	keys := []string{d.s.outboxKey(), d.s.eventKey(head.ID), d.s.dueKey(), d.s.leaseKey()}
	now := d.s.now()
	tok := d.token()
	args := []any{group, m.ID, head.ID, typ, body, now.UnixMilli(), now.Add(d.o.Lease).UnixMilli(), tok}
	if head.ID != "bad" {
		for _, sub := range subs {
			if sub.Wants(typ) {
				member := head.ID + ":" + sub.ID
				keys = append(keys, d.s.deliveryKey(member))
				args = append(args, member)
			}
		}
	}
	claimed, err := fanOutScript.Run(ctx, d.s.rdb, keys, args...).StringSlice()
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhook outbox: fanning out", "entry", m.ID, "err", err)
		}
		return
	}
	for _, member := range claimed {
		d.start(ctx, member, tok)
	}
}

// claimScript leases up to ARGV[3] deliveries due at ARGV[1] to the caller
// until ARGV[2].
var claimScript = redis.NewScript(`
local ms = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(ms) do
  redis.call('ZADD', KEYS[1], ARGV[2], m)
  redis.call('HSET', KEYS[2], m, ARGV[4])
end
return ms
`)

// dueLoop sends the deliveries whose time came: retries, and deliveries a
// dead process held when its lease ran out.
func (d *Dispatcher) dueLoop(ctx context.Context) {
	tick := time.NewTicker(d.o.Poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		free := cap(d.sem) - len(d.sem)
		if free <= 0 {
			continue
		}
		now := d.s.now()
		tok := d.token()
		ms, err := claimScript.Run(ctx, d.s.rdb, []string{d.s.dueKey(), d.s.leaseKey()}, now.UnixMilli(), now.Add(d.o.Lease).UnixMilli(), free, tok).StringSlice()
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("webhook deliveries: claiming", "err", err)
			}
			continue
		}
		for _, m := range ms {
			d.start(ctx, m, tok)
		}
	}
}

// start sends one leased delivery in the background, waiting for a free
// worker first.
func (d *Dispatcher) start(ctx context.Context, member, tok string) {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer func() { <-d.sem }()
		d.deliver(context.WithoutCancel(ctx), member, tok)
	}()
}

// renewScript extends a lease the caller still holds.
var renewScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
return 1
`)

// finishScript records an attempt's outcome if the caller still holds the
// lease: done (or cancelled), retry at a time, or dead.
//
//	KEYS: due, lease, dead, delivery hash, event hash
//	ARGV: member, token, outcome, next due ms, now ms, status, error,
//	  keep ms, attempted (1/0)
var finishScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return 'lost' end
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[9] == '1' then
  redis.call('HINCRBY', KEYS[4], 'attempts', 1)
  redis.call('HSET', KEYS[4], 'last_at', ARGV[5], 'last_status', ARGV[6], 'last_error', ARGV[7])
end
local o = ARGV[3]
if o == 'done' or o == 'cancelled' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[4], 'state', o)
  redis.call('PEXPIRE', KEYS[4], ARGV[8])
  if redis.call('HINCRBY', KEYS[5], 'pending', -1) <= 0 then
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

// Delivery is one event on its way to one webhook.
type Delivery struct {
	// ID is the event id and the subscription id, "evt_...:sub_...";
	// it is also the Idempotency-Key header of every attempt.
	ID           string    `json:"id"`
	Event        string    `json:"event"`
	Type         string    `json:"type"`
	Subscription string    `json:"subscription"`
	URL          string    `json:"url,omitempty"`
	State        string    `json:"state"` // pending, done, cancelled or dead
	Attempts     int       `json:"attempts"`
	FirstAt      time.Time `json:"first_at"`
	LastAt       time.Time `json:"last_at,omitzero"`
	LastStatus   int       `json:"last_status,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
}

func (s *Store) delivery(ctx context.Context, member string) (*Delivery, error) {
	m, err := s.rdb.HGetAll(ctx, s.deliveryKey(member)).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	dl := &Delivery{ID: member, Event: m["event"], Type: m["type"], Subscription: m["sub"], State: m["state"], LastError: m["last_error"]}
	dl.Attempts, _ = strconv.Atoi(m["attempts"])
	dl.LastStatus, _ = strconv.Atoi(m["last_status"])
	if ms, err := strconv.ParseInt(m["first_at"], 10, 64); err == nil {
		dl.FirstAt = time.UnixMilli(ms).UTC()
	}
	if ms, err := strconv.ParseInt(m["last_at"], 10, 64); err == nil {
		dl.LastAt = time.UnixMilli(ms).UTC()
	}
	return dl, nil
}

// Backoff is the wait before the retry after the n-th failed attempt:
// uniformly random up to min(RetryCap, RetryBase·2^(n−1)) ("full
// jitter"), never less than a quarter of RetryBase.
func (o DeliveryOptions) Backoff(n int) time.Duration {
	ceil := o.RetryBase
	for i := 1; i < n && ceil < o.RetryCap; i++ {
		ceil *= 2
	}
	ceil = min(ceil, o.RetryCap)
	d := time.Duration(mrand.Int64N(int64(ceil)) + 1)
	return max(d, o.RetryBase/4)
}

// deliver makes one attempt of a leased delivery and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, member, tok string) {
	s := d.s
	dl, err := s.delivery(ctx, member)
	finish := func(outcome string, next time.Time, status int, errText string, attempted bool) {
		now := s.now()
		keys := []string{s.dueKey(), s.leaseKey(), s.deadKey(), s.deliveryKey(member), s.eventKey(dl.Event)}
		a := "0"
		if attempted {
			a = "1"
		}
		r, err := finishScript.Run(ctx, s.rdb, keys, member, tok, outcome, next.UnixMilli(), now.UnixMilli(), status, truncate(errText, 300), keepDone.Milliseconds(), a).Text()
		if err != nil {
			d.log.Warn("webhook delivery: recording the outcome", "delivery", member, "err", err)
		} else if r == "lost" {
			d.log.Warn("webhook delivery: the lease ran out before the attempt ended; another process has it", "delivery", member)
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// Expired or never written: forget the member.
			s.rdb.ZRem(ctx, s.dueKey(), member)
			s.rdb.HDel(ctx, s.leaseKey(), member)
		}
		return
	}
	if dl.State != "pending" {
		// Finished already (a replay raced it): just forget the member.
		s.rdb.ZRem(ctx, s.dueKey(), member)
		s.rdb.HDel(ctx, s.leaseKey(), member)
		return
	}
	sub, err := s.subscription(ctx, dl.Subscription)
	if errors.Is(err, ErrNotFound) {
		finish("cancelled", time.Time{}, 0, "the subscription was removed", false)
		return
	}
	if err != nil {
		return // the lease runs out and the delivery comes back
	}
	body, err := s.rdb.HGet(ctx, s.eventKey(dl.Event), "body").Result()
	if errors.Is(err, redis.Nil) {
		finish("cancelled", time.Time{}, 0, "the event expired", false)
		return
	}
	if err != nil {
		return
	}
	// Hold a fresh lease for the whole attempt.
	ok, err := renewScript.Run(ctx, s.rdb, []string{s.dueKey(), s.leaseKey()}, member, tok, s.now().Add(d.o.Lease).UnixMilli()).Int()
	if err != nil || ok != 1 {
		return
	}
	attempt := dl.Attempts + 1
	status, errText := d.post(ctx, sub, dl, []byte(body), attempt)
	if status >= 200 && status < 300 {
		finish("done", time.Time{}, status, "", true)
		return
	}
	now := s.now()
	if now.Sub(dl.FirstAt) >= d.o.MaxAge {
		d.log.Warn("webhook delivery: dead-lettered", "delivery", member, "url", sub.URL, "attempts", attempt, "last_error", errText)
		finish("dead", time.Time{}, status, errText, true)
		return
	}
	wait := d.o.Backoff(attempt)
	d.log.Info("webhook delivery failed; will retry", "delivery", member, "url", sub.URL, "attempt", attempt, "status", status, "err", errText, "retry_in", wait.Round(time.Millisecond))
	finish("retry", now.Add(wait), status, errText, true)
}

// post sends one attempt and returns the status (0 when there was no
// answer) and, on failure, why.
func (d *Dispatcher) post(ctx context.Context, sub *Subscription, dl *Delivery, body []byte, attempt int) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	ts := d.s.now().Unix()
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Playbook-Webhooks/1")
	h.Set(HeaderIdempotencyKey, dl.ID)
	h.Set(HeaderEvent, dl.Type)
	h.Set(HeaderAttempt, strconv.Itoa(attempt))
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, Sign(sub.Secret, ts, body))
	resp, err := d.o.Client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, ""
	}
	msg := resp.Status
	if t := strings.TrimSpace(string(head)); t != "" {
		msg += ": " + truncate(t, 200)
	}
	return resp.StatusCode, msg
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// DeadLetters returns the deliveries that failed for longer than MaxAge,
// newest first, at most limit (default 100).
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]*Delivery, error) {
	if limit <= 0 {
		limit = 100
	}
	ms, err := s.rdb.ZRevRange(ctx, s.deadKey(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, err
	}
	subs, _ := s.Subscriptions(ctx)
	urls := map[string]string{}
	for _, sub := range subs {
		urls[sub.ID] = sub.URL
	}
	out := make([]*Delivery, 0, len(ms))
	for _, m := range ms {
		dl, err := s.delivery(ctx, m)
		if err != nil {
			continue
		}
		dl.URL = urls[dl.Subscription]
		out = append(out, dl)
	}
	return out, nil
}

// replayScript moves a dead delivery back to the due set, due now, with
// its retry window starting again.
var replayScript = redis.NewScript(`
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[3], 'state', 'pending', 'first_at', ARGV[2], 'attempts', 0)
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`)

// Replay sends a dead-lettered delivery again (its retry window starts
// over). It returns ErrNotFound for an id not in the dead-letter list.
func (s *Store) Replay(ctx context.Context, id string) error {
	n, err := replayScript.Run(ctx, s.rdb, []string{s.deadKey(), s.dueKey(), s.deliveryKey(id)}, id, s.now().UnixMilli()).Int()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ReplayAll sends every dead-lettered delivery again and returns how many.
func (s *Store) ReplayAll(ctx context.Context) (int, error) {
	n := 0
	for {
		ms, err := s.rdb.ZRange(ctx, s.deadKey(), 0, 499).Result()
		if err != nil {
			return n, err
		}
		if len(ms) == 0 {
			return n, nil
		}
		for _, m := range ms {
			if err := s.Replay(ctx, m); err == nil {
				n++
			} else if !errors.Is(err, ErrNotFound) {
				return n, err
			}
		}
	}
}

// Pending returns how many deliveries wait to be sent (due now or later,
// or under way), per subscription id.
func (s *Store) Pending(ctx context.Context) (map[string]int, error) {
	ms, err := s.rdb.ZRange(ctx, s.dueKey(), 0, 99999).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, m := range ms {
		if _, sub, ok := strings.Cut(m, ":"); ok {
			out[sub]++
		}
	}
	return out, nil
}

// Outbox returns how many events wait in the outbox stream, not yet
// fanned out into deliveries.
func (s *Store) Outbox(ctx context.Context) (int64, error) {
	return s.rdb.XLen(ctx, s.outboxKey()).Result()
}
