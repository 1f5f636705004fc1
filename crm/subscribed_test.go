package crm_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/store"
)

// subsOutbox serves the webhook subscriptions from memory, counts the
// reads, and holds a read while gate is set, to see who waits for it.
type subsOutbox struct {
	store.Outbox // nil: only the subscription methods are used
	mu           sync.Mutex
	subs         map[string]string
	reads        int
	gate         chan struct{}
	read         chan struct{} // a read started
}

func (o *subsOutbox) Subscriptions(ctx context.Context) ([]string, error) {
	o.mu.Lock()
	o.reads++
	gate := o.gate
	var out []string
	for _, v := range o.subs {
		out = append(out, v)
	}
	o.mu.Unlock()
	o.read <- struct{}{}
	if gate != nil {
		<-gate
	}
	return out, nil
}

func (o *subsOutbox) PutSubscription(ctx context.Context, id, js string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.subs[id] = js
	return nil
}

// TestSubscribedNeverWaitsForARefresh: a turn asks whether a webhook wants
// its event. After the first read, a stale list is answered from at once
// and read again in the background (a turn never waits for that read: issue
// 13, at most 2 round trips before a returning visitor's greeting), while
// a subscription this process adds is seen by the next question.
func TestSubscribedNeverWaitsForARefresh(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	ob := &subsOutbox{subs: map[string]string{}, read: make(chan struct{}, 10)}
	b, _ := json.Marshal(crm.Subscription{ID: "sub_a", URL: "https://example.com/a", Events: []string{crm.EventConversationStarted}})
	ob.subs["sub_a"] = string(b)
	st := crm.New(nil, ob, crm.Options{Now: clock})

	if !st.Subscribed(ctx, crm.EventConversationStarted) || st.Subscribed(ctx, crm.EventConversationResolved) {
		t.Fatal("the first read: wrong answer")
	}
	<-ob.read
	if ob.reads != 1 {
		t.Fatalf("%d reads for two questions within the freshness, want 1", ob.reads)
	}

	// Stale: the answer comes from the list read before, while the new
	// read is held.
	ob.mu.Lock()
	ob.gate = make(chan struct{})
	ob.mu.Unlock()
	advance(3 * time.Second)
	answered := make(chan bool)
	go func() { answered <- st.Subscribed(ctx, crm.EventConversationStarted) }()
	select {
	case got := <-answered:
		if !got {
			t.Fatal("a stale list answered false")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribed waited for the refresh of a stale list")
	}
	<-ob.read // the refresh started, in the background
	// Another question while it runs starts no second read.
	st.Subscribed(ctx, crm.EventConversationStarted)
	close(ob.gate)
	ob.mu.Lock()
	ob.gate = nil
	ob.mu.Unlock()

	// A subscription added here is seen at once, whatever a refresh under
	// way read before it.
	if _, err := st.AddSubscription(ctx, "https://example.com/b", []string{crm.EventConversationResolved}, "s3cret-s3cret-s3cret"); err != nil {
		t.Fatal(err)
	}
	if !st.Subscribed(ctx, crm.EventConversationResolved) {
		t.Fatal("a subscription added by this process is not seen by the next question")
	}
	ob.mu.Lock()
	defer ob.mu.Unlock()
	if ob.reads != 3 {
		t.Fatalf("%d reads, want 3 (the first, one refresh, one after the add)", ob.reads)
	}
}
