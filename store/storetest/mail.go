package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// MailQuota runs the transcript mail quota tests; open returns a fresh,
// empty engine and, called again, another instance on the same data (a
// second process).
func MailQuota(t *testing.T, open func(t *testing.T) func() store.MailQuota) {
	t.Run("PerConversation", func(t *testing.T) {
		inst := open(t)
		q := transcript.NewQuota(inst(), transcript.Limits{PerConversation: 3, PerMinute: 100})
		ctx := context.Background()
		if _, err := q.Claim(ctx, "c1", "not an address", ""); !errors.Is(err, transcript.ErrBadAddress) {
			t.Fatalf("a bad address: %v", err)
		}
		for i := range 3 {
			if to, err := q.Claim(ctx, "c1", "Ana@Acme.io", ""); err != nil || to != "ana@acme.io" {
				t.Fatalf("mail %d: %q, %v", i+1, to, err)
			}
		}
		if _, err := q.Claim(ctx, "c1", "ana@acme.io", ""); !errors.Is(err, transcript.ErrTooMany) {
			t.Fatalf("a fourth mail: %v, want ErrTooMany", err)
		}
		q.Release(ctx, "c1")
		if _, err := q.Claim(ctx, "c1", "ana@acme.io", ""); err != nil {
			t.Fatalf("after a release: %v", err)
		}
		if _, err := q.Claim(ctx, "c2", "ana@acme.io", ""); err != nil {
			t.Fatalf("another conversation: %v", err)
		}
		if _, err := q.Claim(ctx, "c2", "bo@acme.io", ""); !errors.Is(err, transcript.ErrOtherAddress) {
			t.Fatalf("another address: %v, want ErrOtherAddress", err)
		}
		if _, err := q.Claim(ctx, "c3", "bo@acme.io", "ana@acme.io"); !errors.Is(err, transcript.ErrOtherAddress) {
			t.Fatalf("not the known address: %v, want ErrOtherAddress", err)
		}
	})
	t.Run("PerMinuteAcrossTwoProcesses", func(t *testing.T) {
		inst := open(t)
		now := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
		lim := transcript.Limits{PerConversation: 3, PerMinute: 10, Now: func() time.Time { return now }}
		a, b := transcript.NewQuota(inst(), lim), transcript.NewQuota(inst(), lim)
		ctx := context.Background()
		var mu sync.Mutex
		sent, busy := 0, 0
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q := a
				if i%2 == 1 {
					q = b
				}
				_, err := q.Claim(ctx, fmt.Sprintf("c%d", i), "ana@acme.io", "")
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					sent++
				case errors.Is(err, transcript.ErrBusy):
					busy++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if sent != 10 || busy != 20 {
			t.Fatalf("%d sent, %d busy; want 10 and 20", sent, busy)
		}
	})
}
