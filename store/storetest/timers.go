package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Timers runs the conformance suite of store.Timers: every due timer is
// claimed exactly once by pollers in two processes; cancelled, moved and
// future timers are not.
func Timers(t *testing.T, open func(t *testing.T) func() store.Timers) {
	t.Run("FireOnceAcrossProcesses", func(t *testing.T) {
		ctx := context.Background()
		newTimers := open(t)
		procs := []store.Timers{newTimers(), newTimers()}
		base := time.UnixMilli(1_700_000_000_000)
		const n = 200
		for i := range n {
			if err := procs[i%2].Set(ctx, fmt.Sprintf("c%d", i), "wait", base.Add(time.Duration(i)*time.Millisecond)); err != nil {
				t.Fatal(err)
			}
		}
		if err := procs[0].Set(ctx, "later", "wait", base.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// Moved into the future: it must not fire at its first time.
		if err := procs[1].Set(ctx, "c5", "wait", base.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := procs[1].Cancel(ctx, "c0", "wait"); err != nil {
			t.Fatal(err)
		}
		if err := procs[1].Cancel(ctx, "never-set", "wait"); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		claimed := map[string]int{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					due, err := procs[w%2].Claim(ctx, base.Add(time.Minute), 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(due) == 0 {
						return
					}
					mu.Lock()
					for _, d := range due {
						if d.ID != "wait" || d.At.After(base.Add(time.Minute)) {
							t.Errorf("claimed %+v", d)
						}
						claimed[d.Conversation]++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(claimed) != n-2 {
			t.Fatalf("claimed %d timers, want %d", len(claimed), n-2)
		}
		for c, k := range claimed {
			if k != 1 {
				t.Errorf("timer of %s fired %d times", c, k)
			}
		}
		if claimed["c0"] != 0 || claimed["later"] != 0 || claimed["c5"] != 0 {
			t.Errorf("a cancelled, moved or future timer fired: %v", claimed)
		}
		late, err := procs[0].Claim(ctx, base.Add(3*time.Hour), 10)
		if err != nil || len(late) != 2 || late[0].Conversation != "later" || late[1].Conversation != "c5" || !late[0].At.Equal(base.Add(time.Hour)) {
			t.Fatalf("later timers = %+v %v, want later then c5 at their times", late, err)
		}
	})
}

// Programs runs the conformance suite of store.Programs.
func Programs(t *testing.T, open func(t *testing.T) func() store.Programs) {
	t.Run("ByHash", func(t *testing.T) {
		ctx := context.Background()
		newPrograms := open(t)
		p := newPrograms()
		files := map[string][]byte{"a.yaml": []byte("playbook: a\n"), "b.yaml": []byte("playbook: b\n")}
		if err := p.Save(ctx, "h1", files); err != nil {
			t.Fatal(err)
		}
		if err := p.Keep(ctx, "h1"); err != nil {
			t.Fatal(err)
		}
		got, err := newPrograms().Load(ctx, "h1")
		if err != nil || string(got["b.yaml"]) != "playbook: b\n" || len(got) != 2 {
			t.Fatalf("load = %v %v", got, err)
		}
		if _, err := p.Load(ctx, "nope"); !errors.Is(err, store.ErrNoVersion) {
			t.Fatalf("missing version: %v, want ErrNoVersion", err)
		}
	})
}
