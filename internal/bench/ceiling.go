package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// CeilingOptions configure a ceiling run: the atomic session
// read-modify-write alone, with no websocket, engine or server in the way.
type CeilingOptions struct {
	Redis  redis.UniversalClient
	Prefix string // key prefix; the run deletes its keys when done
	// Workers run turns at once, each on its own conversation; default 1.
	Workers  int
	Duration time.Duration // measured time; default 10s
	Warmup   time.Duration
	// TurnsPerConversation: a worker moves to a new conversation after this
	// many turns, so transcripts stay the size of real ones; default 10.
	TurnsPerConversation int
	Sample               func(ctx context.Context) Sample
}

// CeilingResult is what a ceiling run measured.
type CeilingResult struct {
	Workers     int           `json:"workers"`
	Window      time.Duration `json:"window_ns"`
	Turns       int           `json:"turns"`
	TurnsPerSec float64       `json:"turns_per_sec"`
	Latency     Latencies     `json:"latency"`
	Errors      int           `json:"errors"`
	FirstError  string        `json:"first_error,omitempty"`
	Before      Sample        `json:"-"`
	After       Sample        `json:"-"`
}

// CeilingSession is the session a ceiling turn reads and writes: the
// reference conversation's, at the size question.
func CeilingSession(id string, now time.Time) *engine.Session {
	return &engine.Session{
		ID: id, Playbook: "qualify", Version: "c11ec78da57f2b1e8e6b3f0c3c1f8a4ed2b6b0b39c7d5a1e4f2a6c9d8e7b1a30",
		Status: engine.StatusWaiting, Card: 4, Locale: "en", Turn: 4,
		Vars:      map[string]any{"email": "visitor1@acme1.com", "score": 0},
		Visitor:   engine.Visitor{ID: "bench-1", Page: "/bench", Language: "en"},
		StartedAt: now, UpdatedAt: now,
	}
}

// ceilingEntries are the two entries a ceiling turn appends: the visitor's
// answer and the bot's next question.
func ceilingEntries(clientID string, now time.Time) []redisstore.Entry {
	return []redisstore.Entry{
		{From: "visitor", Kind: "message", Text: "visitor1@acme1.com", ClientID: clientID, At: now},
		{From: "bot", Kind: "message", Text: textSize, Author: "Ava", Card: "size", Input: "choice", At: now,
			Buttons: []engine.Button{{Label: "1-10", Value: "1-10"}, {Label: "11-50", Value: "11-50"}, {Label: "51-200", Value: "51-200"}, {Label: "201+", Value: "201+"}}},
	}
}

// Ceiling runs redisstore.Store.Turn with a trivial step as fast as
// opts.Workers workers can: the most turns per second the store allows on
// this Redis.
func Ceiling(ctx context.Context, opts CeilingOptions) (CeilingResult, error) {
	if opts.Workers <= 0 {
		opts.Workers = 1
	}
	if opts.Duration <= 0 {
		opts.Duration = 10 * time.Second
	}
	if opts.TurnsPerConversation <= 0 {
		opts.TurnsPerConversation = 10
	}
	if opts.Prefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		opts.Prefix = "pbceiling" + hex.EncodeToString(b[:]) + ":"
	}
	sample := opts.Sample
	if sample == nil {
		sample = func(context.Context) Sample { return Sample{At: time.Now()} }
	}
	st := redisstore.New(opts.Redis, redisstore.Options{Prefix: opts.Prefix, TTL: 10 * time.Minute})
	res := CeilingResult{Workers: opts.Workers}
	start := time.Now()
	winStart := start.Add(opts.Warmup)
	winEnd := winStart.Add(opts.Duration)

	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		lats  []time.Duration
		ids   []string
		bmu   sync.Mutex
		taken = make(chan struct{})
	)
	var before Sample
	go func() {
		defer close(taken)
		select {
		case <-time.After(time.Until(winStart)):
		case <-ctx.Done():
		}
		before = sample(ctx)
	}()
	var after Sample
	var afterOnce sync.Once
	stopAt := time.AfterFunc(time.Until(winEnd), func() {
		<-taken
		afterOnce.Do(func() { after = sample(context.WithoutCancel(ctx)) })
	})
	defer stopAt.Stop()

	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var myIDs []string
			var firstErr error
			errs := 0
			conv, turns := "", 0
			for time.Now().Before(winEnd) && ctx.Err() == nil {
				now := time.Now().UTC()
				if conv == "" || turns >= opts.TurnsPerConversation {
					conv = "w" + strconv.Itoa(w) + "c" + strconv.Itoa(len(myIDs))
					myIDs = append(myIDs, conv)
					if _, err := st.Create(ctx, CeilingSession(conv, now), ceilingEntries("", now)[1:]); err != nil {
						errs++
						firstErr = err
						conv = ""
						continue
					}
					turns = 0
				}
				turns++
				t0 := time.Now()
				_, err := st.Turn(ctx, conv, "m"+strconv.Itoa(turns), func(sess *engine.Session) (*engine.Session, []redisstore.Entry, error) {
					sess.Turn++
					sess.UpdatedAt = now
					return sess, ceilingEntries("m"+strconv.Itoa(turns), now), nil
				})
				t1 := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						errs++
						firstErr = err
					}
					continue
				}
				if !t1.Before(winStart) && t1.Before(winEnd) {
					mine = append(mine, t1.Sub(t0))
				}
			}
			mu.Lock()
			lats = append(lats, mine...)
			res.Turns += len(mine)
			res.Errors += errs
			if firstErr != nil && res.FirstError == "" {
				res.FirstError = firstErr.Error()
			}
			mu.Unlock()
			bmu.Lock()
			ids = append(ids, myIDs...)
			bmu.Unlock()
		}()
	}
	wg.Wait()
	<-taken
	afterOnce.Do(func() { after = sample(context.WithoutCancel(ctx)) })
	cleanup(context.WithoutCancel(ctx), st, ids)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Window = opts.Duration
	res.TurnsPerSec = float64(res.Turns) / opts.Duration.Seconds()
	res.Latency = percentiles(lats)
	res.Before, res.After = before, after
	if res.Turns == 0 && res.FirstError != "" {
		return res, fmt.Errorf("ceiling: no turn succeeded: %s", res.FirstError)
	}
	return res, nil
}

// cleanup deletes the ceiling's conversations.
func cleanup(ctx context.Context, st *redisstore.Store, ids []string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(ids) > 0 {
		n := min(len(ids), 500)
		if err := st.Delete(ctx, ids[:n]...); err != nil {
			return
		}
		ids = ids[n:]
	}
}
