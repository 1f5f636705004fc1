package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// SoakOptions configure a soak run: resilient visitors talk for a long
// time while something breaks the servers on a schedule.
type SoakOptions struct {
	// URLs are the servers; a visitor whose connection drops moves on to
	// the next one.
	URLs     []string
	Playbook string // default "qualify"
	Visitors int
	// Think is the visitors' mean pause before each turn (see Options).
	Think    time.Duration
	Duration time.Duration
	Sources  int
	// Every Every, Break is called (with the count so far, from 1): it
	// restarts a server, say. Zero: nothing breaks.
	Every time.Duration
	Break func(ctx context.Context, n int) error
	// Verify, when set, checks a completed conversation (of script sc)
	// against the store: what the visitor received must be all there is.
	Verify func(ctx context.Context, sc Script, conv string, got []Entry) error
	// Keep keeps every completed conversation in SoakResult.Finished, to be
	// checked against the store after the run (VerifyFinished): for a store
	// that cannot be read while the server runs, as the embedded one,
	// which its process locks.
	Keep bool
	// Sample is called every SampleEvery (default 10 s) for memory over
	// time.
	Sample      func(ctx context.Context) SoakSample
	SampleEvery time.Duration
}

// SoakSample is the memory of a soak run at one time.
type SoakSample struct {
	At         time.Time `json:"at"`
	ServerPID  int       `json:"server_pid"`
	ServerRSS  int64     `json:"server_rss"`
	RedisBytes int64     `json:"redis_used_memory,omitempty"`
	// ServerAnon and ServerFile split ServerRSS (see ProcRSSParts): the
	// process's own memory and the mapped files' pages it holds.
	ServerAnon int64 `json:"server_rss_anon,omitempty"`
	ServerFile int64 `json:"server_rss_file,omitempty"`
	// DataBytes is the size of the embedded store's data directory.
	DataBytes int64 `json:"data_bytes,omitempty"`
	Done      int   `json:"conversations_done"`
}

// SoakResult is what a soak run saw.
type SoakResult struct {
	Window time.Duration `json:"window_ns"`
	// Conversations were completed, each with exactly the reference
	// conversation's entries (and, with Verify, exactly the store's).
	Conversations int            `json:"conversations"`
	ByOutcome     map[string]int `json:"by_outcome"`
	Turns         int            `json:"turns"`
	// Errors are conversations that went wrong: an entry missing, doubled
	// or different, a verification that failed, or no answer at all.
	Errors       int            `json:"errors"`
	ErrorSamples []string       `json:"error_samples,omitempty"`
	Unfinished   int            `json:"unfinished"` // cut by the end of the run
	Breaks       int            `json:"breaks"`
	BreakErrors  []string       `json:"break_errors,omitempty"`
	Stats        ResilientStats `json:"stats"`
	Latency      Latencies      `json:"latency"`
	Samples      []SoakSample   `json:"samples"`
	// Started are the conversations the visitors began (the store's ids),
	// finished or not, for counting what they created.
	Started []string `json:"-"`
	// Finished are the completed conversations (with SoakOptions.Keep),
	// for VerifyFinished.
	Finished []FinishedConversation `json:"-"`
	// Verified is how many of them VerifyFinished checked; AfterLeaving
	// how many of those were handoffs whose wait ran out after the visitor
	// left (the offline path followed, with its lead).
	Verified     int `json:"verified_after_run,omitempty"`
	AfterLeaving int `json:"offline_after_leaving,omitempty"`
}

// FinishedConversation is a completed conversation of a soak: its script,
// its id in the store, the entries its visitor received and its turns.
type FinishedConversation struct {
	Script       Script
	Conversation string
	Entries      []Entry
	Turns        int
}

// VerifyFinished checks every conversation of r.Finished against st as
// SoakOptions.Verify would have during the run (VerifyTranscript: the
// store holds exactly what the visitor received, and its records): one
// that fails moves from the completed conversations (and their turns) to
// the errors. Reading the store after the run also checks that nothing
// acknowledged before a later kill was lost. (The latencies of a failed
// conversation stay in the percentiles.)
//
// One thing may have happened since the visitor left: nobody answers a
// soak's handed-off chats, so a handoff whose wait ran out before the
// store was read has gone on to the offline path. Its transcript must then
// be exactly what the visitor received followed by exactly that path (the
// offline message and the end, with one record; AfterLeaving counts them).
func (r *SoakResult) VerifyFinished(ctx context.Context, st Transcripts) {
	for _, f := range r.Finished {
		r.Verified++
		stored, err := st.Transcript(ctx, f.Conversation, "", 0)
		if err == nil {
			err = sameStored(stored, f.Entries, nil, RecordsOf(f.Script))
			if err != nil && f.Script.Outcome == OutcomeHandoff {
				if oerr := sameStored(stored, f.Entries, offlinePath, 1); oerr == nil {
					err = nil
					r.AfterLeaving++
				} else {
					err = fmt.Errorf("%w; nor is it the offline path after the visitor left: %v", err, oerr)
				}
			}
		}
		if err == nil {
			continue
		}
		r.Conversations--
		r.ByOutcome[f.Script.Outcome]--
		r.Turns -= f.Turns
		r.Errors++
		if len(r.ErrorSamples) < maxErrorSamples {
			ce := &checkError{f.Script.N, len(f.Script.Turns), "the store disagrees (after the run): " + err.Error()}
			r.ErrorSamples = append(r.ErrorSamples, ce.Error())
		}
	}
}

// kept is what VerifyFinished compares of received entries (id, sender,
// kind, text): a long soak keeps every finished conversation.
func kept(es []Entry) []Entry {
	out := make([]Entry, len(es))
	for i, e := range es {
		out[i] = Entry{ID: e.ID, From: e.From, Kind: e.Kind, Text: e.Text}
	}
	return out
}

// offlinePath is what the reference playbook stores, after a handoff,
// when the chat's wait runs out with nobody taking it (as a lead
// conversation ends).
var offlinePath = []Entry{{From: "bot", Kind: "message", Text: textOffline}, {From: "system", Kind: "end"}}

// Soak runs opts.Visitors resilient visitors for opts.Duration, breaking
// things every opts.Every.
func Soak(ctx context.Context, opts SoakOptions) (SoakResult, error) {
	if opts.Playbook == "" {
		opts.Playbook = "qualify"
	}
	if opts.Visitors < 1 || opts.Duration <= 0 {
		return SoakResult{}, errors.New("soak: visitors and a duration are needed")
	}
	if opts.SampleEvery <= 0 {
		opts.SampleEvery = 10 * time.Second
	}
	d, err := newDialer(opts.URLs, opts.Sources)
	if err != nil {
		return SoakResult{}, err
	}
	res := SoakResult{ByOutcome: map[string]int{}}
	var mu sync.Mutex
	var lat []time.Duration
	runCtx, stop := context.WithTimeout(ctx, opts.Duration)
	defer stop()
	// Conversations still running when the window closes get a grace
	// period to finish; those that cannot are unfinished, not errors.
	talkCtx, stopTalk := context.WithTimeout(ctx, opts.Duration+2*time.Minute)
	defer stopTalk()
	start := time.Now()

	var aux sync.WaitGroup
	aux.Add(1)
	go func() { // memory over time
		defer aux.Done()
		t := time.NewTicker(opts.SampleEvery)
		defer t.Stop()
		for {
			if opts.Sample != nil {
				s := opts.Sample(ctx)
				mu.Lock()
				s.Done = res.Conversations
				res.Samples = append(res.Samples, s)
				mu.Unlock()
			}
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
		}
	}()
	if opts.Every > 0 && opts.Break != nil {
		aux.Add(1)
		go func() {
			defer aux.Done()
			breakOnSchedule(ctx, start, opts.Duration, opts.Every, func(n int) {
				err := opts.Break(ctx, n)
				mu.Lock()
				res.Breaks++
				if err != nil {
					res.BreakErrors = append(res.BreakErrors, err.Error())
				}
				mu.Unlock()
			})
		}()
	}

	var next atomic.Int64
	var wg sync.WaitGroup
	for v := range opts.Visitors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the first conversations over one think time.
			if opts.Think > 0 && sleep(runCtx, time.Duration(v)*opts.Think/time.Duration(opts.Visitors)) != nil {
				return
			}
			for runCtx.Err() == nil {
				n := int(next.Add(1) - 1)
				sc := ScriptFor(n)
				var turns []time.Duration
				conv, err := d.runResilient(talkCtx, v, sc, opts.Playbook, opts.Think, func(r turnResult) { turns = append(turns, r.latency) })
				if err == nil && opts.Verify != nil {
					vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					if verr := opts.Verify(vctx, sc, conv.Conversation, conv.Entries); verr != nil {
						err = &checkError{sc.N, len(sc.Turns), "the store disagrees: " + verr.Error()}
					}
					cancel()
				}
				mu.Lock()
				if conv.Conversation != "" {
					res.Started = append(res.Started, conv.Conversation)
				}
				res.Stats.Add(conv.Stats)
				var ce *checkError
				switch {
				case err == nil:
					res.Conversations++
					res.ByOutcome[sc.Outcome]++
					res.Turns += len(turns)
					lat = append(lat, turns...)
					if opts.Keep {
						res.Finished = append(res.Finished, FinishedConversation{sc, conv.Conversation, kept(conv.Entries), len(turns)})
					}
				case errors.As(err, &ce):
					res.Errors++
					if len(res.ErrorSamples) < maxErrorSamples {
						res.ErrorSamples = append(res.ErrorSamples, err.Error())
					}
				default: // the run ended under it
					res.Unfinished++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	stop()
	aux.Wait()
	res.Window = time.Since(start)
	res.Latency = percentiles(lat)
	return res, nil
}

// breakOnSchedule calls brk(n) for the n-th break, due at start+n*every,
// for every break due before start+window: exactly ceil(window/every)-1
// of them, however long each takes. It counts breaks by the schedule, not
// by ticks: a ticker's tick queued during a slow restart would fire at once
// (and race the window's end, giving one break more or less). A break
// whose time has passed runs at once; it returns early only when ctx ends.
func breakOnSchedule(ctx context.Context, start time.Time, window, every time.Duration, brk func(n int)) {
	for n := 1; ; n++ {
		due := start.Add(time.Duration(n) * every)
		if !due.Before(start.Add(window)) {
			return
		}
		if wait := time.Until(due); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		brk(n)
	}
}

// String summarizes a soak result in a line.
func (r SoakResult) String() string {
	return fmt.Sprintf("%d conversations (%d turns) checked, %d errors, %d unfinished, %d breaks", r.Conversations, r.Turns, r.Errors, r.Unfinished, r.Breaks)
}

// WaitUntil calls check until it reports done, for at most limit (or
// until ctx ends), pausing 100 ms after the first try and doubling up to
// 1 s: a bounded wait for a state another process reaches (the soak's
// "no pending mark left", read from the server). It returns how long it
// waited, and an error when the limit passed (with check's last error).
func WaitUntil(ctx context.Context, limit time.Duration, check func(ctx context.Context) (bool, error)) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	pause := 100 * time.Millisecond
	for {
		ok, err := check(ctx)
		if ok {
			return time.Since(start), nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				err = ctx.Err()
			}
			return time.Since(start), fmt.Errorf("not done after %v: %w", time.Since(start).Round(time.Millisecond), err)
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}
