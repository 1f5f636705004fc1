package crm

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
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

	"github.com/playbook-dev/playbook/internal/metrics"
	"github.com/playbook-dev/playbook/store"
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
// It reads new events from every shard of the outbox, takes over events
// another process read and never finished (after ClaimIdle), and sends
// the retries that came due.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for n := 0; n < d.s.ob.Shards(); n++ {
		wg.Add(1)
		go func() { defer wg.Done(); d.readLoop(ctx, n) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); d.dueLoop(ctx) }()
	wg.Wait()
	d.wg.Wait()
	return nil
}

// readLoop reads one shard of the outbox and fans each event out into
// deliveries.
func (d *Dispatcher) readLoop(ctx context.Context, shard int) {
	lastClaim := time.Time{}
	for ctx.Err() == nil {
		if now := d.s.now(); now.Sub(lastClaim) >= max(d.o.ClaimIdle/2, d.o.Poll) {
			lastClaim = now
			d.takeOver(ctx, shard)
		}
		es, err := d.s.ob.Read(ctx, shard, d.o.Consumer, 16, d.o.Poll)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.log.Warn("webhook outbox: reading", "shard", shard, "err", err)
			sleep(ctx, d.o.Poll)
			continue
		}
		for _, e := range es {
			d.fanOut(ctx, e)
		}
	}
}

// takeOver claims events other consumers read more than ClaimIdle ago
// and never fanned out (their process died mid-way), and fans them out.
func (d *Dispatcher) takeOver(ctx context.Context, shard int) {
	for i := 0; i < 100 && ctx.Err() == nil; i++ {
		es, err := d.s.ob.TakeOver(ctx, shard, d.o.Consumer, d.o.ClaimIdle, 16)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("webhook outbox: taking over idle events", "shard", shard, "err", err)
			}
			return
		}
		for _, e := range es {
			d.log.Info("webhook outbox: took over an event another process did not finish", "entry", e.Ref)
			d.fanOut(ctx, e)
		}
		if len(es) < 16 {
			return
		}
	}
}

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
	if d.s.now().Sub(d.subsAt) < time.Second && d.subs != nil {
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
	d.subs, d.subsAt = subs, d.s.now()
	d.mu.Unlock()
	return subs, nil
}

// fanOut makes one delivery per subscription that wants the event, and
// starts sending those this call made.
func (d *Dispatcher) fanOut(ctx context.Context, e store.OutboxEntry) {
	if e.Event.ID == "" {
		d.log.Error("webhook outbox: dropping a malformed event", "entry", e.Ref)
	}
	subs, err := d.subscriptions(ctx)
	if err != nil {
		d.log.Warn("webhook outbox: reading subscriptions", "err", err)
		return // not acknowledged: taken over later
	}
	var ids []string
	if e.Event.ID != "" {
		for _, sub := range subs {
			if sub.Wants(e.Event.Type) {
				ids = append(ids, sub.ID)
			}
		}
	}
	now := d.s.now()
	tok := d.token()
	claimed, err := d.s.ob.FanOut(ctx, e, ids, now.UnixMilli(), now.Add(d.o.Lease).UnixMilli(), tok)
	if err != nil {
		if ctx.Err() == nil {
			d.log.Warn("webhook outbox: fanning out", "entry", e.Ref, "err", err)
		}
		return
	}
	for _, id := range claimed {
		d.start(ctx, id, tok)
	}
}

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
		for n := 0; n < d.s.ob.Shards(); n++ {
			free := cap(d.sem) - len(d.sem)
			if free <= 0 {
				break
			}
			now := d.s.now()
			tok := d.token()
			ids, err := d.s.ob.ClaimDue(ctx, n, now.UnixMilli(), now.Add(d.o.Lease).UnixMilli(), free, tok)
			if err != nil {
				if ctx.Err() == nil {
					d.log.Warn("webhook deliveries: claiming", "shard", n, "err", err)
				}
				continue
			}
			for _, id := range ids {
				d.start(ctx, id, tok)
			}
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
	m, err := s.ob.Delivery(ctx, member)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, ErrNotFound
	}
	dl := &Delivery{ID: member, Event: m.Event, Type: m.Type, Subscription: m.Sub, State: m.State, LastError: m.LastError,
		Attempts: m.Attempts, LastStatus: m.LastStatus}
	if m.FirstMs != 0 {
		dl.FirstAt = time.UnixMilli(m.FirstMs).UTC()
	}
	if m.LastMs != 0 {
		dl.LastAt = time.UnixMilli(m.LastMs).UTC()
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
	var took time.Duration // the attempt's request; 0: none sent
	finish := func(outcome string, next time.Time, status int, errText string, attempted bool) {
		s.m.Webhook(dl.Type, webhookOutcome(outcome), took)
		f := store.Finish{Outcome: outcome, NowMs: s.now().UnixMilli(), Status: status, Error: truncate(errText, 300), Attempted: attempted, Keep: keepDone}
		if !next.IsZero() {
			f.NextMs = next.UnixMilli()
		}
		held, err := s.ob.Finish(ctx, member, tok, f)
		if err != nil {
			d.log.Warn("webhook delivery: recording the outcome", "delivery", member, "err", err)
		} else if !held {
			d.log.Warn("webhook delivery: the lease ran out before the attempt ended; another process has it", "delivery", member)
		}
	}
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			// Expired or never written: forget the member.
			_ = s.ob.Forget(ctx, member)
		}
		return
	}
	if dl.State != "pending" {
		// Finished already (a replay raced it): just forget the member.
		_ = s.ob.Forget(ctx, member)
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
	body, err := s.ob.EventBody(ctx, dl.Event)
	if err != nil {
		return
	}
	if body == "" {
		finish("cancelled", time.Time{}, 0, "the event expired", false)
		return
	}
	// Hold a fresh lease for the whole attempt.
	ok, err := s.ob.Renew(ctx, member, tok, s.now().Add(d.o.Lease).UnixMilli())
	if err != nil || !ok {
		return
	}
	attempt := dl.Attempts + 1
	sent := time.Now()
	status, errText := d.post(ctx, sub, dl, []byte(body), attempt)
	took = max(time.Since(sent), time.Nanosecond)
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

// webhookOutcome is the metrics' name of a delivery's outcome.
func webhookOutcome(outcome string) string {
	switch outcome {
	case "done":
		return metrics.WebhookDelivered
	case "retry":
		return metrics.WebhookRetry
	case "dead":
		return metrics.WebhookDead
	}
	return metrics.WebhookCancelled
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
	ms, err := s.ob.Dead(ctx, limit)
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

// Replay sends a dead-lettered delivery again (its retry window starts
// over). It returns ErrNotFound for an id not in the dead-letter list.
func (s *Store) Replay(ctx context.Context, id string) error {
	ok, err := s.ob.Replay(ctx, id, s.now().UnixMilli())
	if err != nil {
		return err
	}
	if !ok {
		return ErrNotFound
	}
	return nil
}

// ReplayAll sends every dead-lettered delivery again and returns how many.
func (s *Store) ReplayAll(ctx context.Context) (int, error) {
	n := 0
	for {
		ms, err := s.ob.Dead(ctx, 500)
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
	ms, err := s.ob.Due(ctx, 100000)
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
	return s.ob.Backlog(ctx)
}
