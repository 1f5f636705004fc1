package bench

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/client"
)

// IdleOptions configure an idle run: many widgets that connect, start a
// conversation, get the bot's greeting and then stay open doing nothing,
// as on a busy site where most visitors never write.
type IdleOptions struct {
	URLs        []string
	Playbook    string // default "qualify"
	Connections int
	// Parallel bounds the connections being opened at once; default 100.
	Parallel int
	// Settle is how long to wait after the last connection opened before
	// the "connected" sample; default 3s.
	Settle time.Duration
	// Hold is how long the connections then stay open, idle, before the
	// "after" sample; default 10s.
	Hold        time.Duration
	TurnTimeout time.Duration // default 10s
	// Turns is how many turns of its conversation past the greeting each
	// widget answers before it goes idle (0: the greeting only; at most
	// the conversation's): the memory of visitors who chatted, then went
	// quiet.
	Turns   int
	Sources int
	Sample  func(ctx context.Context) Sample
}

// idleDefaults fills the settings an idle run (Idle, IdleInProcess) left
// unset: the "qualify" playbook, 100 handshakes at once, 3 s to settle, a
// 10 s hold and 10 s for a turn.
func idleDefaults(playbook *string, parallel *int, settle, hold, turnTimeout *time.Duration) {
	if *playbook == "" {
		*playbook = "qualify"
	}
	if *parallel <= 0 {
		*parallel = 100
	}
	if *settle <= 0 {
		*settle = 3 * time.Second
	}
	if *hold <= 0 {
		*hold = 10 * time.Second
	}
	if *turnTimeout <= 0 {
		*turnTimeout = 10 * time.Second
	}
}

// IdleResult is what an idle run measured.
type IdleResult struct {
	Connections  int           `json:"connections"` // open, greeted and checked
	Errors       int           `json:"errors"`
	ErrorSamples []string      `json:"error_samples,omitempty"`
	OpenTime     time.Duration `json:"open_ns"` // to open and greet them all
	Start        Latencies     `json:"start_latency"`
	// Closed counts connections the server closed during the hold.
	Closed    int    `json:"closed_during_hold"`
	Before    Sample `json:"-"` // before the first connection
	Connected Sample `json:"-"` // all open, after Settle
	After     Sample `json:"-"` // after Hold
}

// Idle opens opts.Connections idle visitor connections and samples the
// server before, once they are all open, and after holding them.
func Idle(ctx context.Context, opts IdleOptions) (IdleResult, error) {
	idleDefaults(&opts.Playbook, &opts.Parallel, &opts.Settle, &opts.Hold, &opts.TurnTimeout)
	if opts.Connections <= 0 {
		return IdleResult{}, errors.New("bench: no connections to open")
	}
	sample := opts.Sample
	if sample == nil {
		sample = func(context.Context) Sample { return Sample{At: time.Now()} }
	}
	d, err := newDialer(opts.URLs, opts.Sources)
	if err != nil {
		return IdleResult{}, err
	}
	res := IdleResult{Before: sample(ctx)}

	holdCtx, stopHold := context.WithCancel(ctx)
	defer stopHold()
	var (
		mu      sync.Mutex
		conns   []*client.Conn
		lats    []time.Duration
		readers sync.WaitGroup
		closed  = make(chan struct{}, opts.Connections)
		sem     = make(chan struct{}, opts.Parallel)
		wg      sync.WaitGroup
	)
	defer func() {
		for _, ws := range conns {
			ws.CloseNow()
		}
		readers.Wait()
	}()
	t0 := time.Now()
	for n := 0; n < opts.Connections && ctx.Err() == nil; n++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			sc := ScriptFor(n)
			if k := 1 + max(opts.Turns, 0); k < len(sc.Turns) { // the greeting and opts.Turns more
				sc.Turns, sc.Outcome = sc.Turns[:k], ""
			}
			lat := time.Duration(-1)
			dctx, cancel := context.WithTimeout(ctx, opts.TurnTimeout)
			ws, err := d.dial(dctx, n)
			cancel()
			if err == nil {
				err = conversation(ctx, &clientTurns{ctx: ctx, ws: ws, timeout: opts.TurnTimeout}, sc, opts.Playbook, opts.TurnTimeout, 0, func(r turnResult) {
					if lat < 0 { // the start's
						lat = r.latency
					}
				})
				if err != nil {
					ws.CloseNow()
				}
			} else {
				err = &checkError{n, 1, err.Error()}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					res.Errors++
					if len(res.ErrorSamples) < maxErrorSamples {
						res.ErrorSamples = append(res.ErrorSamples, err.Error())
					}
				}
				return
			}
			conns = append(conns, ws)
			lats = append(lats, lat)
			// Keep reading, as a browser does, so pings are answered.
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					if _, err := ws.Next(holdCtx); err != nil {
						if holdCtx.Err() == nil {
							closed <- struct{}{}
						}
						return
					}
				}
			}()
		}()
	}
	wg.Wait()
	res.OpenTime = time.Since(t0)
	res.Connections = len(conns)
	res.Start = percentiles(lats)
	if err := sleep(ctx, opts.Settle); err != nil {
		return res, err
	}
	res.Connected = sample(ctx)
	if err := sleep(ctx, opts.Hold); err != nil {
		return res, err
	}
	res.After = sample(ctx)
	res.Closed = len(closed)
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
