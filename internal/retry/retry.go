// Package retry is the one retry policy of Playbook: a bounded number of
// attempts with exponential backoff and jitter, every wait cut short when
// the context is done. Use it instead of a loop with time.Sleep.
package retry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"
)

// Policy says how often and how patiently to try. Zero values take the
// defaults in the field comments.
type Policy struct {
	// Tries is the number of attempts in all, the first included;
	// default 3.
	Tries int
	// Base is the mean wait before the second attempt; each later wait
	// doubles it, up to Max. Default 100ms.
	Base time.Duration
	// Max caps the mean of one wait; default 2s.
	Max time.Duration
}

// Do calls f until it returns nil, returns an error marked Permanent, has
// been called p.Tries times, or ctx is done. It returns nil, the permanent
// error (unwrapped), the last error, or — when ctx ends first — ctx's error
// joined with the last error of f. Each wait is drawn uniformly from
// [d/2, 3d/2) around the current mean d, so callers that failed together do
// not retry in step. f is called at least once unless ctx is done already.
func Do(ctx context.Context, p Policy, f func(ctx context.Context) error) error {
	if p.Tries <= 0 {
		p.Tries = 3
	}
	if p.Base <= 0 {
		p.Base = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 2 * time.Second
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	wait := p.Base
	var last error
	for try := 0; try < p.Tries; try++ {
		if try > 0 {
			t := time.NewTimer(wait/2 + rand.N(wait))
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(ctx.Err(), last)
			case <-t.C:
			}
			wait = min(2*wait, p.Max)
		}
		last = f(ctx)
		if last == nil {
			return nil
		}
		var perm *permanent
		if errors.As(last, &perm) {
			return perm.err
		}
	}
	return last
}

// Permanent marks err as not worth retrying: Do returns it at once. A nil
// err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }
func (p *permanent) Unwrap() error { return p.err }
