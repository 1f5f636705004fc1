package bench_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/metrics"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// scrape is one read of /metrics: per family, the sum of its samples'
// values (a histogram's: its count of observations), and per family and
// label set the same.
type scrape struct {
	families map[string]*dto.MetricFamily
}

// sum adds up a family's values over the samples whose labels include
// every pair of want (name, value, name, value...).
func (s scrape) sum(family string, want ...string) (float64, bool) {
	f, ok := s.families[family]
	if !ok {
		return 0, false
	}
	var total float64
	for _, m := range f.GetMetric() {
		if !hasLabels(m, want) {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	return total, true
}

func hasLabels(m *dto.Metric, want []string) bool {
	for i := 0; i+1 < len(want); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			found = found || (l.GetName() == want[i] && l.GetValue() == want[i+1])
		}
		if !found {
			return false
		}
	}
	return true
}

func readMetrics(t *testing.T, url, token string) scrape {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %s: %s", resp.Status, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return scrape{fams}
}

// testClock is real time plus an offset the test moves forward.
type testClock struct{ off atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *testClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// TestMetricsMoveDuringBench serves qualify with metrics on, scrapes
// /metrics while a bench run talks to it, then takes one handed-off chat,
// lets the others' handoff wait run out, and checks that every family of
// internal/metrics moved (playbook_store_errors_total, which a healthy run
// leaves alone, has its own tests in store/redis and store/embedded).
func TestMetricsMoveDuringBench(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		m := metrics.New(prometheus.NewRegistry())
		db, err := embedded.Open(t.TempDir(), embedded.Options{Observer: m.StoreObserver("embedded")})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		metricsDuringBench(t, m, embedded.NewEngine(db), "pb:", "embedded")
	})
	t.Run("redis", func(t *testing.T) {
		rds := redistest.New(t) // skips under -short
		m := metrics.New(prometheus.NewRegistry())
		redisstore.Observe(rds.Client, m.StoreObserver("redis"))
		metricsDuringBench(t, m, redisstore.NewEngine(rds.Client, rds.Prefix), rds.Prefix, "redis")
	})
	t.Run("cluster", func(t *testing.T) {
		cl := redistest.NewCluster(t) // skips under -short, or without a cluster
		m := metrics.New(prometheus.NewRegistry())
		redisstore.Observe(cl.Client, m.StoreObserver("redis"))
		metricsDuringBench(t, m, redisstore.NewEngine(cl.Client, cl.Prefix), cl.Prefix, "redis")
	})
}

func metricsDuringBench(t *testing.T, m *metrics.Metrics, engine store.Engine, prefix, engineName string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // guards against a hang
	defer cancel()
	const token = "metrics-test-token"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "qualify.yaml"), playbooks.BenchQualify, 0o644); err != nil {
		t.Fatal(err)
	}
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer hooks.Close()
	clock := &testClock{}
	srv, err := servertest.New(servertest.Config{Engine: engine,
		Options: conversation.Options{Playbooks: dir, Prefix: prefix, Presence: bench.SimulatedPresence{},
			RecoverAfter: 2 * time.Second, PasswordCost: bcrypt.MinCost, Metrics: m, Now: clock.Now,
			// Failed deliveries are retried within a few milliseconds and
			// dead-lettered a minute after their first attempt (on the
			// service's clock, which the test moves).
			Webhooks: conversation.WebhookOptions{RetryBase: 4 * time.Millisecond, RetryCap: 20 * time.Millisecond,
				MaxAge: time.Minute, Poll: 20 * time.Millisecond},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Config: server.Config{ConnectsPerMinute: -1, MetricsToken: token},
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan struct{})
	go func() { srv.Run(runCtx); close(runDone) }()
	hs := httptest.NewServer(srv.Handler())
	defer func() {
		hs.CloseClientConnections()
		hs.Close()
		stop()
		<-runDone
	}()
	servertest.AwaitListening(t, srv)
	app := srv.App()
	for _, path := range []string{"/ok", "/fail"} {
		if _, err := app.CRM().AddSubscription(ctx, hooks.URL+path, []string{crm.EventRecordCreated}, "a-secret-of-some-length"); err != nil {
			t.Fatal(err)
		}
	}

	// The token guards the handler.
	for _, auth := range []string{"", "Bearer wrong"} {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("GET /metrics with %q: %s, want 401", auth, resp.Status)
		}
	}

	before := readMetrics(t, hs.URL, token)

	// Scrape all along the bench run.
	var scrapes atomic.Int64
	var wg sync.WaitGroup
	benchDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-benchDone:
				return
			case <-ctx.Done():
				return
			default:
			}
			readMetrics(t, hs.URL, token)
			scrapes.Add(1)
		}
	}()
	var handedOff []string
	res, err := bench.Run(ctx, bench.Options{URLs: []string{hs.URL}, Visitors: 4, Conversations: 20, Sources: 1,
		QueueCheck: func(ctx context.Context, ids []string, _ time.Duration) (int, []error) {
			handedOff = ids
			return len(ids), nil
		}})
	close(benchDone)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 {
		t.Fatalf("bench: %d errors: %v", res.Errors, res.ErrorSamples)
	}
	if scrapes.Load() == 0 {
		t.Fatal("no scrape during the bench run")
	}
	if len(handedOff) < 2 {
		t.Fatalf("bench: %d chats handed off, want at least 2", len(handedOff))
	}

	// An agent takes one handed-off chat (a queue wait); the others wait
	// until their handoff's time (2 minutes) runs out: missed, their
	// timers due, the offline path's lead and its webhooks.
	agent, err := app.Inbox().AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam", Teams: []string{"sales"}, Password: "a-long-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Service().Take(ctx, agent, handedOff[0], ""); err != nil {
		t.Fatalf("taking %s: %v", handedOff[0], err)
	}
	ws, _, err := websocket.Dial(ctx, strings.Replace(hs.URL, "http", "ws", 1)+"/ws/visitor", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	clock.Advance(3 * time.Minute)

	moved := func(s scrape, family string, labels ...string) bool {
		b, _ := before.sum(family, labels...)
		a, ok := s.sum(family, labels...)
		return ok && a > b
	}
	// Wait for the work the clock set off, scraping.
	var after scrape
	for {
		after = readMetrics(t, hs.URL, token)
		open, _ := after.sum("playbook_websocket_connections", "kind", "visitor")
		if moved(after, "playbook_missed_chats_total") && moved(after, "playbook_webhook_deliveries_total", "outcome", "dead") &&
			moved(after, "playbook_webhook_deliveries_total", "outcome", "delivered") &&
			moved(after, "playbook_webhook_deliveries_total", "outcome", "retry") && open >= 1 &&
			// A playbook's timer is counted once its turn ran, which may
			// be after the missed chats and the webhooks were.
			moved(after, "playbook_timers_due_total", "kind", "playbook") {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the metrics never showed the missed chats, the webhooks delivered, retried and dead, the playbook's timers and the open websocket: %v", after.families)
		case <-time.After(20 * time.Millisecond):
		}
	}

	for _, c := range []struct {
		family string
		labels []string
	}{
		{"playbook_turns_total", []string{"playbook", "qualify", "event", "button"}},
		{"playbook_turns_total", []string{"playbook", "qualify", "event", "text"}},
		{"playbook_turns_total", []string{"playbook", "qualify", "event", "timer"}},
		{"playbook_turn_duration_seconds", []string{"playbook", "qualify"}},
		{"playbook_conversations_started_total", []string{"playbook", "qualify"}},
		{"playbook_conversations_ended_total", []string{"playbook", "qualify", "outcome", "browsing"}},
		{"playbook_conversations_ended_total", []string{"playbook", "qualify", "outcome", "lead"}},
		{"playbook_handoffs_total", []string{"playbook", "qualify", "team", "sales"}},
		{"playbook_queue_wait_seconds", []string{"team", "sales"}},
		{"playbook_missed_chats_total", []string{"team", "sales"}},
		{"playbook_records_created_total", []string{"kind", "lead"}},
		{"playbook_webhook_deliveries_total", []string{"event", crm.EventRecordCreated, "outcome", "delivered"}},
		{"playbook_webhook_deliveries_total", []string{"outcome", "retry"}},
		{"playbook_webhook_deliveries_total", []string{"outcome", "dead"}},
		{"playbook_webhook_request_duration_seconds", nil},
		{"playbook_store_round_trip_seconds", []string{"engine", engineName}},
		{"playbook_websocket_connections", []string{"kind", "visitor"}},
		{"playbook_websocket_connections_opened_total", []string{"kind", "visitor"}},
		{"playbook_timers_due_total", []string{"kind", "playbook"}},
		{"playbook_timer_lag_seconds", nil},
	} {
		if !moved(after, c.family, c.labels...) {
			b, _ := before.sum(c.family, c.labels...)
			a, _ := after.sum(c.family, c.labels...)
			t.Errorf("%s%v did not move: %v before, %v after", c.family, c.labels, b, a)
		}
	}
	// Each turn the bench sent was counted, and each conversation.
	if n, _ := after.sum("playbook_conversations_started_total"); n != float64(res.Conversations) {
		t.Errorf("conversations started: %v, the bench started %d", n, res.Conversations)
	}
	// The pending marks gauge is the store's count, read at the scrape.
	if _, ok := after.sum("playbook_pending_marks"); !ok {
		t.Error("no playbook_pending_marks in the scrape")
	}
	// Every family the package registers is in the scrape.
	for _, name := range metrics.Families() {
		if _, ok := after.families[name]; !ok && name != "playbook_store_errors_total" {
			t.Errorf("family %s is not in the scrape", name)
		}
	}

	// The websocket closes: the gauge comes back down.
	ws.Close(websocket.StatusNormalClosure, "")
	for {
		s := readMetrics(t, hs.URL, token)
		if open, _ := s.sum("playbook_websocket_connections", "kind", "visitor"); open == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("playbook_websocket_connections never came back to 0")
		case <-time.After(20 * time.Millisecond):
		}
	}
}
