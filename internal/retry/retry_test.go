package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/retry"
)

var errBusy = errors.New("busy")

func TestDoRetriesUntilSuccess(t *testing.T) {
	calls := 0
	err := retry.Do(context.Background(), retry.Policy{Tries: 5, Base: time.Microsecond}, func(context.Context) error {
		calls++
		if calls < 3 {
			return errBusy
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Fatalf("Do = %v after %d calls, want nil after 3", err, calls)
	}
}

func TestDoGivesUpAfterTries(t *testing.T) {
	calls := 0
	err := retry.Do(context.Background(), retry.Policy{Tries: 4, Base: time.Microsecond}, func(context.Context) error {
		calls++
		return errBusy
	})
	if !errors.Is(err, errBusy) || calls != 4 {
		t.Fatalf("Do = %v after %d calls, want errBusy after 4", err, calls)
	}
}

func TestDoStopsAtAPermanentError(t *testing.T) {
	invalid := errors.New("invalid")
	calls := 0
	err := retry.Do(context.Background(), retry.Policy{Tries: 5, Base: time.Microsecond}, func(context.Context) error {
		calls++
		return retry.Permanent(invalid)
	})
	if err != invalid || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want the permanent error itself after 1", err, calls)
	}
	if retry.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
}

// TestDoHonoursTheContext: a cancel during a wait ends Do at once (the
// wait here is an hour), with the context's error and the last failure.
func TestDoHonoursTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	failed := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- retry.Do(ctx, retry.Policy{Tries: 3, Base: time.Hour, Max: time.Hour}, func(context.Context) error {
			close(failed)
			return errBusy
		})
	}()
	<-failed
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, errBusy) {
			t.Fatalf("Do = %v, want context.Canceled joined with errBusy", err)
		}
	case <-time.After(time.Minute): // guards against a hang only
		t.Fatal("Do did not return after the cancel")
	}
	if err := retry.Do(ctx, retry.Policy{}, func(context.Context) error { t.Fatal("called with a done context"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("Do on a done context = %v", err)
	}
}
