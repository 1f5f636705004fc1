package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/store"
)

// receiver is a webhook endpoint on 127.0.0.1 that can fail on purpose,
// go down (its listener closed) and come back on the same port.
type receiver struct {
	t      *testing.T
	secret string
	addr   string

	mu       sync.Mutex
	srv      *http.Server
	failNext int               // answer 503 to this many requests
	attempts int               // requests seen, failed or not
	got      map[string][]byte // idempotency key → body, of successful requests
	dups     int               // successful requests for a key already seen
	badSig   int
	hold     chan struct{} // when set, requests wait for it to close
}

func newReceiver(t *testing.T, secret string) *receiver {
	r := &receiver{t: t, secret: secret, got: map[string][]byte{}}
	r.up()
	t.Cleanup(r.down)
	return r
}

func (r *receiver) url() string { return "http://" + r.addr + "/hook" }

// up starts listening (on the same port as before, once there is one).
func (r *receiver) up() {
	r.t.Helper()
	addr := r.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for try := 0; try < 50; try++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver: %v", err)
	}
	r.mu.Lock()
	r.addr = ln.Addr().String()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve)}
	srv := r.srv
	r.mu.Unlock()
	go srv.Serve(ln)
}

// down closes the listener and every connection: requests are refused.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.Close()
	}
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	hold := r.hold
	r.attempts++
	if r.failNext > 0 {
		r.failNext--
		r.mu.Unlock()
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	r.mu.Unlock()
	if hold != nil {
		<-hold
	}
	err := crm.Verify(r.secret, req.Header.Get(crm.HeaderSignature), req.Header.Get(crm.HeaderTimestamp), body, time.Now(), 5*time.Minute)
	key := req.Header.Get(crm.HeaderIdempotencyKey)
	var ev crm.Event
	_ = json.Unmarshal(body, &ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.badSig++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if !strings.HasPrefix(key, ev.ID+":sub_") || req.Header.Get(crm.HeaderEvent) != ev.Type {
		r.t.Errorf("idempotency key %q / event header %q for event %s %s", key, req.Header.Get(crm.HeaderEvent), ev.ID, ev.Type)
	}
	if prev, ok := r.got[key]; ok {
		r.dups++
		if string(prev) != string(body) {
			r.t.Errorf("a duplicate of %s carries another body", key)
		}
	}
	r.got[key] = body
	w.WriteHeader(http.StatusNoContent)
}

func (r *receiver) received() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.got)
}

// fastDelivery makes retries take milliseconds instead of minutes.
func fastDelivery(name string) crm.DeliveryOptions {
	return crm.DeliveryOptions{
		Consumer: name, RetryBase: 20 * time.Millisecond, RetryCap: 200 * time.Millisecond, MaxAge: time.Hour,
		Timeout: time.Second, Lease: 2 * time.Second, ClaimIdle: 400 * time.Millisecond, Poll: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// runDispatcher runs a dispatcher (one "server process") until the test
// ends or stop is called.
func runDispatcher(t *testing.T, st *crm.Store, o crm.DeliveryOptions) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { st.Dispatcher(o).Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWebhooksSurviveFailuresAndDowntime: the receiver fails the first 5
// attempts, then is down for a while, then comes back. Two processes
// deliver. Every event arrives, signed; duplicates carry the same key.
func testWebhooksSurviveFailuresAndDowntime(t *testing.T, open Open) {
	e := open(t)
	spy := &outboxSpy{Outbox: e.Outbox, calls: map[string]int{}}
	st := crm.New(e.CRM, spy, crm.Options{Agents: salesTeam()})
	ctx := context.Background()
	rcv := newReceiver(t, "s3cret-s3cret-s3cret")
	sub, err := st.AddSubscription(ctx, rcv.url(), []string{crm.EventRecordCreated, crm.EventConversationResolved}, "s3cret-s3cret-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.failNext = 5
	rcv.mu.Unlock()
	stop1 := runDispatcher(t, st, fastDelivery("p1"))
	stop2 := runDispatcher(t, st, fastDelivery("p2"))

	// 4 conversations: organization, person, lead each (12 records), and
	// a resolved event each.
	for i := range 4 {
		conv := fmt.Sprintf("c%d", i)
		if _, err := st.Create(ctx, crm.Source{Conversation: conv}, rec("lead", conv+":1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": fmt.Sprintf("p%d@corp%d.com", i, i)}})); err != nil {
			t.Fatal(err)
		}
		if err := st.Emit(ctx, crm.EventConversationResolved, map[string]any{"conversation": map[string]any{"id": conv}}); err != nil {
			t.Fatal(err)
		}
	}
	// Not subscribed: never sent.
	if err := st.Emit(ctx, crm.EventConversationStarted, map[string]any{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the 5 failures", 5*time.Second, func() bool {
		rcv.mu.Lock()
		defer rcv.mu.Unlock()
		return rcv.attempts >= 5 && rcv.failNext == 0
	})
	rcv.down()
	refused := spy.count("Finish retry unanswered", "")
	if _, err := st.Create(ctx, crm.Source{Conversation: "c9"}, rec("task", "c9:1:x:0", map[string]any{"subject": "while down"})); err != nil {
		t.Fatal(err)
	}
	// Down: connection refused, the attempt is put back for a retry.
	waitFor(t, "an attempt refused while the receiver is down", 10*time.Second, func() bool { return spy.count("Finish retry unanswered", "") > refused })
	rcv.up()
	const want = 4*3 + 4 + 1 // records, resolved events, the task
	waitFor(t, "every event", 15*time.Second, func() bool { return rcv.received() == want })
	// Both processes stopped (their attempts under way ended): nothing
	// more arrives.
	stop1()
	stop2()
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.got) != want || rcv.badSig != 0 {
		t.Fatalf("received %d distinct events (want %d), %d bad signatures", len(rcv.got), want, rcv.badSig)
	}
	for key, body := range rcv.got {
		var ev crm.Event
		json.Unmarshal(body, &ev)
		if ev.Type == crm.EventConversationStarted || key != ev.ID+":"+sub.ID {
			t.Errorf("got %s with key %s", ev.Type, key)
		}
	}
	t.Logf("%d attempts for %d events, %d duplicates", rcv.attempts, want, rcv.dups)
	if dead, _ := st.DeadLetters(ctx, 0); len(dead) != 0 {
		t.Fatalf("dead letters: %+v", dead)
	}
}

// TestWebhookTakenOverFromAKilledProcess: a process reads events from the
// outbox and dies before handling them; another takes them over after
// ClaimIdle, not before. A process that hangs mid-request loses its lease;
// another sends the delivery once the lease ran out, not before, and the
// hung one's late outcome is ignored. On an engine whose clock the test
// moves (CRMEngine.Advance) the store runs on that clock and the test
// advances it past ClaimIdle and the lease instead of waiting for them.
func testWebhookTakenOverFromAKilledProcess(t *testing.T, open Open) {
	e := open(t)
	clk, advance := time.Now, e.Advance
	if advance != nil {
		clk = e.Now
	}
	spy := &outboxSpy{Outbox: e.Outbox, calls: map[string]int{}}
	st := crm.New(e.CRM, spy, crm.Options{Agents: salesTeam(), Now: clk})
	ob := e.Outbox
	ctx := context.Background()
	rcv := newReceiver(t, "s3cret-s3cret-s3cret")
	if _, err := st.AddSubscription(ctx, rcv.url(), []string{"*"}, "s3cret-s3cret-s3cret"); err != nil {
		t.Fatal(err)
	}
	// The killed process: it read the events with the consumer group and
	// never acknowledged them.
	for n := 0; n < ob.Shards(); n++ {
		if _, err := ob.Read(ctx, n, "killed", 10, 0); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		st.Emit(ctx, crm.EventConversationStarted, map[string]any{"n": i})
	}
	read := 0
	for n := 0; n < ob.Shards(); n++ {
		es, err := ob.Read(ctx, n, "killed", 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		read += len(es)
	}
	if read != 3 {
		t.Fatalf("killed process read %d events, want 3", read)
	}
	survivor := fastDelivery("survivor")
	start := clk()
	stopSurvivor := runDispatcher(t, st, survivor)
	if advance != nil {
		// Every shard looked for idle events once, before ClaimIdle.
		waitFor(t, "the survivor to look for idle events", 10*time.Second, func() bool { return spy.count("TakeOver", "survivor") >= ob.Shards() })
		if n := rcv.received(); n != 0 {
			t.Fatalf("%d events taken over before ClaimIdle", n)
		}
		advance(survivor.ClaimIdle)
	}
	waitFor(t, "the killed process's events", 10*time.Second, func() bool { return rcv.received() == 3 })
	if took := clk().Sub(start); took < survivor.ClaimIdle {
		t.Fatalf("taken over after %s, before ClaimIdle (%s)", took, survivor.ClaimIdle)
	}
	if n, _ := ob.Backlog(ctx); n != 0 {
		t.Fatalf("outbox still has %d events", n)
	}
	stopSurvivor()

	// The hung process: its request never ends (and its one worker with
	// it, so it claims nothing else). Its lease runs out and another
	// process delivers; the hung one's late outcome changes nothing.
	release, entered := make(chan struct{}), make(chan struct{}, 10)
	hung := fastDelivery("hung")
	hung.Lease = 1500 * time.Millisecond
	hung.Workers = 1
	hung.Client = &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		entered <- struct{}{}
		<-release
		return nil, errors.New("frozen")
	})}
	stopHung := runDispatcher(t, st, hung)
	defer func() { close(release); stopHung() }()
	st.Emit(ctx, crm.EventConversationResolved, map[string]any{"n": 4})
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the hung process never tried")
	}
	hungAt := clk()
	runDispatcher(t, st, fastDelivery("survivor-2"))
	if advance != nil {
		// Every shard was looked at for due deliveries while the lease held.
		waitFor(t, "the second survivor to look for due deliveries", 10*time.Second, func() bool { return spy.count("ClaimDue", "survivor-2") >= ob.Shards() })
		if n := rcv.received(); n != 3 {
			t.Fatalf("%d events received while the hung process's lease held, want 3", n)
		}
		advance(hung.Lease + time.Millisecond)
	}
	waitFor(t, "the hung process's delivery", 10*time.Second, func() bool { return rcv.received() == 4 })
	if took := clk().Sub(hungAt); took < time.Second {
		t.Fatalf("taken from the hung process after %s, while its lease (1.5 s) held", took)
	}
	rcv.mu.Lock()
	dups := rcv.dups
	rcv.mu.Unlock()
	if dups != 0 {
		t.Fatalf("%d duplicates", dups)
	}
}

// outboxSpy counts the calls a dispatcher makes, by method and consumer,
// so a test knows a dispatcher looked before it moves the clock.
type outboxSpy struct {
	store.Outbox
	mu    sync.Mutex
	calls map[string]int // "method consumer"
}

func (s *outboxSpy) count(method, consumer string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method+" "+consumer]
}

func (s *outboxSpy) called(method, consumer string) {
	s.mu.Lock()
	s.calls[method+" "+consumer]++
	s.mu.Unlock()
}

func (s *outboxSpy) TakeOver(ctx context.Context, shard int, consumer string, minIdle time.Duration, count int) ([]store.OutboxEntry, error) {
	es, err := s.Outbox.TakeOver(ctx, shard, consumer, minIdle, count)
	s.called("TakeOver", consumer)
	return es, err
}

// Finish counts the outcomes of attempts, of every consumer; "unanswered"
// when the attempt got no answer (connection refused).
func (s *outboxSpy) Finish(ctx context.Context, id, token string, f store.Finish) (bool, error) {
	held, err := s.Outbox.Finish(ctx, id, token, f)
	what := "Finish " + f.Outcome
	if f.Attempted && f.Status == 0 {
		what += " unanswered"
	}
	s.called(what, "")
	return held, err
}

// ClaimDue counts by the token's consumer (a token is "consumer/n").
func (s *outboxSpy) ClaimDue(ctx context.Context, shard int, nowMs, leaseMs int64, n int, token string) ([]string, error) {
	ids, err := s.Outbox.ClaimDue(ctx, shard, nowMs, leaseMs, n, token)
	consumer, _, _ := strings.Cut(token, "/")
	s.called("ClaimDue", consumer)
	return ids, err
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestWebhookDeadLetterAndReplay: a receiver that always fails gets the
// event dead-lettered after MaxAge; replay sends it again.
func testWebhookDeadLetterAndReplay(t *testing.T, open Open) {
	e := open(t)
	clk := time.Now
	if e.Advance != nil {
		clk = e.Now
	}
	spy := &outboxSpy{Outbox: e.Outbox, calls: map[string]int{}}
	st := crm.New(e.CRM, spy, crm.Options{Agents: salesTeam(), Now: clk})
	ctx := context.Background()
	rcv := newReceiver(t, "s3cret-s3cret-s3cret")
	sub, _ := st.AddSubscription(ctx, rcv.url(), []string{crm.EventConversationHandoff}, "s3cret-s3cret-s3cret")
	rcv.mu.Lock()
	rcv.failNext = 1 << 30
	rcv.mu.Unlock()
	o := fastDelivery("p1")
	o.MaxAge = 300 * time.Millisecond
	runDispatcher(t, st, o)
	st.Emit(ctx, crm.EventConversationHandoff, map[string]any{"team": "sales"})
	if e.Advance != nil {
		// The first attempt fails and is put back for a retry, which
		// comes due after MaxAge.
		waitFor(t, "the first attempt's retry", 10*time.Second, func() bool { return spy.count("Finish retry", "") >= 1 })
		e.Advance(o.MaxAge + o.RetryCap)
	}
	var dead []*crm.Delivery
	waitFor(t, "the dead letter", 10*time.Second, func() bool {
		dead, _ = st.DeadLetters(ctx, 0)
		return len(dead) == 1
	})
	d := dead[0]
	if d.Subscription != sub.ID || d.URL != rcv.url() || d.Attempts < 2 || d.LastStatus != 503 || d.State != "dead" || d.Type != crm.EventConversationHandoff {
		t.Fatalf("dead letter = %+v", d)
	}
	rcv.mu.Lock()
	rcv.failNext = 0
	rcv.mu.Unlock()
	if err := st.Replay(ctx, "evt_nope:sub_nope"); !errors.Is(err, crm.ErrNotFound) {
		t.Fatalf("replaying an unknown id: %v", err)
	}
	if err := st.Replay(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the replayed delivery", 5*time.Second, func() bool { return rcv.received() == 1 })
	if dead, _ := st.DeadLetters(ctx, 0); len(dead) != 0 {
		t.Fatalf("still dead after replay: %+v", dead)
	}
}

func testSubscriptionsValidate(t *testing.T, open Open) {
	st, _ := newStore(t, open, nil, nil)
	ctx := context.Background()
	for _, tc := range []struct {
		url    string
		events []string
		secret string
	}{
		{"ftp://x", []string{"record.created"}, ""},
		{"https://user:pw@x.io", []string{"record.created"}, ""},
		{"https://x.io", nil, ""},
		{"https://x.io", []string{"record.made"}, ""},
		{"https://x.io", []string{"record.created"}, "short"},
	} {
		if _, err := st.AddSubscription(ctx, tc.url, tc.events, tc.secret); !errors.Is(err, crm.ErrInvalid) {
			t.Errorf("AddSubscription(%q, %v, %q) = %v", tc.url, tc.events, tc.secret, err)
		}
	}
	sub, err := st.AddSubscription(ctx, "https://crm.example.com/hooks", []string{"record.created"}, "")
	if err != nil || !strings.HasPrefix(sub.Secret, "whsec_") {
		t.Fatalf("%+v %v", sub, err)
	}
	subs, _ := st.Subscriptions(ctx)
	if len(subs) != 1 || subs[0].ID != sub.ID {
		t.Fatalf("subscriptions = %+v", subs)
	}
	if err := st.RemoveSubscription(ctx, sub.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveSubscription(ctx, sub.ID); !errors.Is(err, crm.ErrNotFound) {
		t.Fatal(err)
	}
	// A signature verifies, and a tampered body does not.
	sig := crm.Sign("k", 1700000000, []byte(`{"a":1}`))
	if crm.Verify("k", sig, "1700000000", []byte(`{"a":1}`), time.Unix(1700000000, 0), time.Minute) != nil {
		t.Fatal("signature does not verify")
	}
	if crm.Verify("k", sig, "1700000000", []byte(`{"a":2}`), time.Unix(1700000000, 0), time.Minute) == nil {
		t.Fatal("tampered body verifies")
	}
}

// testRecordEventsOnlyForASubscription: with no webhook wanting record
// events, making and changing records adds nothing to the outbox (no
// write, read and acknowledgement for nobody); once one wants
// record.created, the records a create makes are there, and
// record.updated, which it does not want, is still not.
func testRecordEventsOnlyForASubscription(t *testing.T, open Open) {
	e := open(t)
	st := crm.New(e.CRM, e.Outbox, crm.Options{Agents: salesTeam()})
	ctx := context.Background()
	outbox := func() []string {
		t.Helper()
		var types []string
		for n := 0; n < e.Outbox.Shards(); n++ {
			es, err := e.Outbox.Read(ctx, n, "test", 100, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range es {
				types = append(types, ev.Event.Type)
			}
		}
		return types
	}
	lead := func(conv string) *crm.Result {
		t.Helper()
		res, err := st.Create(ctx, crm.Source{Conversation: conv}, rec("lead", conv+":1:x:0", map[string]any{"title": "x", "person": map[string]any{"email": "ana@" + conv + ".com"}}))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := lead("c1")
	phone := "+14155550100"
	if _, err := st.UpdatePerson(ctx, res.Person.ID, nil, &phone); err != nil {
		t.Fatal(err)
	}
	if got := outbox(); len(got) != 0 {
		t.Fatalf("with no webhook the outbox holds %v", got)
	}
	if _, err := st.AddSubscription(ctx, "https://crm.example.com/hooks", []string{crm.EventRecordCreated}, ""); err != nil {
		t.Fatal(err)
	}
	res = lead("c2")
	phone = "+14155550101"
	if _, err := st.UpdatePerson(ctx, res.Person.ID, nil, &phone); err != nil {
		t.Fatal(err)
	}
	if got := outbox(); len(got) != 3 || slices.ContainsFunc(got, func(typ string) bool { return typ != crm.EventRecordCreated }) {
		t.Fatalf("with a webhook for record.created the outbox holds %v, want the lead's 3 record.created", got)
	}
}
