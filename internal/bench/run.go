package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a load run.
type Options struct {
	// URLs are the servers' base URLs (http://127.0.0.1:PORT); visitor i
	// talks to URLs[i mod len(URLs)]. Loopback addresses only.
	URLs []string
	// Playbook is the playbook id the visitors start; default "qualify".
	Playbook string
	// Visitors is how many visitors talk at once; default 1. Each runs one
	// conversation after another, each on a new websocket, as a new widget
	// would.
	Visitors int
	// Duration is how long turns are measured, after Warmup. Zero: until
	// Conversations conversations are done.
	Duration time.Duration
	// Warmup runs before the measured window; its turns are not counted
	// (only with a Duration).
	Warmup time.Duration
	// Conversations bounds the conversations started; 0: no bound (then
	// Duration must be set).
	Conversations int
	// TurnTimeout is how long a turn's answer may take before it counts as
	// an error; default 10s.
	TurnTimeout time.Duration
	// Sources is how many loopback source addresses (127.0.0.1 ..
	// 127.0.0.N) the connections are spread over; default 1.
	Sources int
	// Think is the mean pause of a visitor before each turn but the first
	// and before each new conversation (uniform between half and one and
	// a half times it); 0: none, each visitor sends as soon as it has the
	// answer (a closed loop that saturates the machine).
	Think time.Duration
	// Sample, when set, is called at the start and the end of the measured
	// window; its results land in the Result.
	Sample func(ctx context.Context) Sample
	// QueueCheck, when set, checks after the visitors that every
	// conversation handed off reached the inbox, open and assigned or in
	// its team's Unassigned queue (CheckQueuedAPI, through the servers'
	// inbox API); one that did not counts as an error.
	QueueCheck func(ctx context.Context, ids []string, wait time.Duration) (int, []error)
	// QueueWait is how long the inbox check waits for handoffs that are
	// not queued yet (work a failed turn left for the sweep); default 10s.
	QueueWait time.Duration
}

// Result is what a load run measured.
type Result struct {
	Visitors int           `json:"visitors"`
	Think    time.Duration `json:"think_ns"`
	Window   time.Duration `json:"window_ns"`
	// Turns are the turns completed within the window.
	Turns       int       `json:"turns"`
	TurnsPerSec float64   `json:"turns_per_sec"`
	Latency     Latencies `json:"latency"`
	// ByKind are the latencies of the start turns, the answers and the
	// last turns apart.
	ByKind map[string]Latencies `json:"latency_by_kind"`
	// Errors counts conversations with a reply that differs from the
	// reference conversation, a timeout or a broken connection, and (with
	// Options.QueueCheck) handoffs that did not reach the team's queue.
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	// Conversations were completed and checked, including those that ran
	// partly outside the window; ByOutcome splits them by final outcome.
	Conversations int            `json:"conversations"`
	ByOutcome     map[string]int `json:"by_outcome"`
	// Handoffs are the conversations that ended handed off; with
	// Options.QueueCheck, Queued of them were found in the inbox (-1:
	// not checked).
	Handoffs int    `json:"handoffs"`
	Queued   int    `json:"handoffs_queued"`
	Before   Sample `json:"-"`
	After    Sample `json:"-"`
}

// Latencies are turn latencies: from sending the visitor's frame to
// receiving the bot's last message of the turn.
type Latencies struct {
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

func percentiles(d []time.Duration) Latencies {
	if len(d) == 0 {
		return Latencies{}
	}
	slices.Sort(d)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(d))+0.999999) - 1
		return d[max(0, min(i, len(d)-1))]
	}
	return Latencies{P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: d[len(d)-1]}
}

// maxErrorSamples bounds the error messages a Result keeps.
const maxErrorSamples = 10

// Run drives opts.Visitors simulated visitors through the reference
// conversation until the window closes or the conversations are done. It
// returns an error only when the run could not be made; wrong replies are
// counted in Result.Errors.
func Run(ctx context.Context, opts Options) (Result, error) {
	if opts.Visitors <= 0 {
		opts.Visitors = 1
	}
	if opts.Playbook == "" {
		opts.Playbook = "qualify"
	}
	if opts.TurnTimeout <= 0 {
		opts.TurnTimeout = 10 * time.Second
	}
	if opts.Duration <= 0 && opts.Conversations <= 0 {
		return Result{}, errors.New("bench: set a duration or a number of conversations")
	}
	if opts.Duration <= 0 {
		opts.Warmup = 0
	}
	d, err := newDialer(opts.URLs, opts.Sources)
	if err != nil {
		return Result{}, err
	}
	sample := opts.Sample
	if sample == nil {
		sample = func(context.Context) Sample { return Sample{At: time.Now()} }
	}

	start := time.Now()
	winStart := start.Add(opts.Warmup)
	var winEnd time.Time // zero: open until the last conversation ends
	if opts.Duration > 0 {
		winEnd = winStart.Add(opts.Duration)
	}
	inWindow := func(t time.Time) bool {
		return !t.Before(winStart) && (winEnd.IsZero() || t.Before(winEnd))
	}

	var (
		next     atomic.Int64
		mu       sync.Mutex
		res      = Result{Visitors: opts.Visitors, Think: opts.Think, ByOutcome: map[string]int{}, Queued: -1}
		handoffs []string // conversation ids
		lats     []time.Duration
		byKind   = map[string][]time.Duration{}
		wg       sync.WaitGroup
		sampled  = make(chan struct{})
		before   Sample
		stopping = make(chan struct{})
	)
	for _, o := range Outcomes {
		res.ByOutcome[o] = 0
	}
	// The first sample is taken when the window opens.
	go func() {
		defer close(sampled)
		select {
		case <-time.After(time.Until(winStart)):
		case <-ctx.Done():
		}
		before = sample(ctx)
	}()
	if !winEnd.IsZero() {
		t := time.AfterFunc(time.Until(winEnd), func() { close(stopping) })
		defer t.Stop()
	}
	stopped := func() bool {
		select {
		case <-stopping:
			return true
		default:
			return ctx.Err() != nil
		}
	}
	var afterOnce sync.Once
	var after Sample
	takeAfter := func() { afterOnce.Do(func() { after = sample(context.WithoutCancel(ctx)) }) }
	if !winEnd.IsZero() {
		go func() {
			select {
			case <-stopping:
				<-sampled
				takeAfter()
			case <-ctx.Done():
			}
		}()
	}

	for v := 0; v < opts.Visitors; v++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			kinds := map[string][]time.Duration{}
			turns := 0
			conv := ""
			onTurn := func(r turnResult) {
				if r.conversation != "" {
					conv = r.conversation
				}
				if inWindow(r.done) {
					mine = append(mine, r.latency)
					kinds[r.kind] = append(kinds[r.kind], r.latency)
					turns++
				}
			}
			for first := true; !stopped(); first = false {
				if !first && pause(ctx, opts.Think) != nil {
					break
				}
				n := int(next.Add(1) - 1)
				if opts.Conversations > 0 && n >= opts.Conversations {
					break
				}
				sc := ScriptFor(n)
				conv = ""
				err := runOne(ctx, d, v, sc, opts, onTurn)
				mu.Lock()
				if err != nil && ctx.Err() == nil {
					res.Errors++
					if len(res.ErrorSamples) < maxErrorSamples {
						res.ErrorSamples = append(res.ErrorSamples, err.Error())
					}
				} else if err == nil {
					res.Conversations++
					res.ByOutcome[sc.Outcome]++
					if sc.Outcome == OutcomeHandoff {
						handoffs = append(handoffs, conv)
					}
				}
				mu.Unlock()
			}
			mu.Lock()
			lats = append(lats, mine...)
			for k, l := range kinds {
				byKind[k] = append(byKind[k], l...)
			}
			res.Turns += turns
			mu.Unlock()
		}()
	}
	wg.Wait()
	end := time.Now()
	<-sampled
	takeAfter()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.Handoffs = len(handoffs)
	if opts.QueueCheck != nil {
		wait := opts.QueueWait
		if wait <= 0 {
			wait = 10 * time.Second
		}
		var errs []error
		res.Queued, errs = opts.QueueCheck(ctx, handoffs, wait)
		res.Errors += len(errs)
		for _, e := range errs {
			if len(res.ErrorSamples) < maxErrorSamples {
				res.ErrorSamples = append(res.ErrorSamples, e.Error())
			}
		}
	}
	if winEnd.IsZero() || end.Before(winEnd) {
		winEnd = end
	}
	res.Window = max(0, winEnd.Sub(winStart))
	if res.Window > 0 {
		res.TurnsPerSec = float64(res.Turns) / res.Window.Seconds()
	}
	res.Latency = percentiles(lats)
	res.ByKind = map[string]Latencies{}
	for k, l := range byKind {
		res.ByKind[k] = percentiles(l)
	}
	res.Before, res.After = before, after
	return res, nil
}

// runOne runs conversation sc on a new websocket to server v.
func runOne(ctx context.Context, d *dialer, v int, sc Script, opts Options, onTurn func(turnResult)) error {
	dctx, cancel := context.WithTimeout(ctx, opts.TurnTimeout)
	ws, err := d.dialVisitor(dctx, ctx, v, opts.TurnTimeout)
	cancel()
	if err != nil {
		return &checkError{sc.N, 1, err.Error()}
	}
	defer ws.CloseNow()
	if err := conversation(ctx, ws, sc, opts.Playbook, opts.TurnTimeout, opts.Think, onTurn); err != nil {
		return err
	}
	if err := ws.Close(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("conversation %d: closing: %w", sc.N, err)
	}
	return nil
}
