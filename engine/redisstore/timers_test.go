package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/engine/redisstore"
)

// TestTimersFireOnce has several pollers claim the same due timers at once:
// every timer is claimed by exactly one of them.
func TestTimersFireOnce(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	tm := st.Timers()
	base := time.UnixMilli(1_700_000_000_000)
	const n = 200
	for i := range n {
		if err := tm.Set(ctx, fmt.Sprintf("c%d", i), "wait", base.Add(time.Duration(i)*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tm.Set(ctx, "later", "wait", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := tm.Cancel(ctx, "c0", "wait"); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				due, err := tm.Claim(ctx, base.Add(time.Minute), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(due) == 0 {
					return
				}
				mu.Lock()
				for _, d := range due {
					claimed[d.Conversation]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != n-1 {
		t.Fatalf("claimed %d timers, want %d", len(claimed), n-1)
	}
	for c, k := range claimed {
		if k != 1 {
			t.Errorf("timer of %s fired %d times", c, k)
		}
	}
	if claimed["c0"] != 0 || claimed["later"] != 0 {
		t.Errorf("a cancelled or future timer fired: %v", claimed)
	}
}

func TestProgramsByHash(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	p := st.Programs()
	files := map[string][]byte{"a.yaml": []byte("playbook: a\n"), "b.yaml": []byte("playbook: b\n")}
	if err := p.Save(ctx, "h1", files); err != nil {
		t.Fatal(err)
	}
	got, err := p.Load(ctx, "h1")
	if err != nil || string(got["b.yaml"]) != "playbook: b\n" || len(got) != 2 {
		t.Fatalf("load = %v %v", got, err)
	}
	if _, err := p.Load(ctx, "nope"); !errors.Is(err, redisstore.ErrNoVersion) {
		t.Fatalf("missing version: %v", err)
	}
}
