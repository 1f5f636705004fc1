package metrics_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/playbook-dev/playbook/internal/metrics"
)

type pending struct {
	n   int64
	err error
}

func (p *pending) PendingCount(context.Context) (int64, error) { return p.n, p.err }

// touch records one of everything.
func touch(m *metrics.Metrics) {
	m.Turn("qualify", "text", 3*time.Millisecond)
	m.Started("qualify")
	m.Ended("qualify", "lead")
	m.Handoff("qualify", "sales")
	m.QueueWait("sales", 12*time.Second)
	m.Missed("sales")
	m.RecordCreated("lead")
	m.Webhook("record.created", metrics.WebhookDelivered, 20*time.Millisecond)
	m.StoreObserver("redis").RoundTrip("command", time.Millisecond, errors.New("connection reset"))
	m.SocketOpened("visitor")
	m.TimerDue("playbook", time.Second)
}

// TestFamiliesListsEveryFamily: Families (which docs/metrics.md and the
// dashboard's test rely on) names exactly what New and Pending register.
func TestFamiliesListsEveryFamily(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	if err := m.Pending(&pending{n: 3}); err != nil {
		t.Fatal(err)
	}
	touch(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fams {
		if name := f.GetName(); strings.HasPrefix(name, metrics.Namespace+"_") {
			got = append(got, name)
		}
	}
	want := slices.Sorted(slices.Values(metrics.Families()))
	if !slices.Equal(got, want) {
		t.Errorf("registered %v\nFamilies() %v", got, want)
	}
	if n := testutil.ToFloat64(collectorOf(t, reg, "playbook_pending_marks")); n != 3 {
		t.Errorf("pending marks %v, want 3", n)
	}
	// One registry per Metrics: a second pending gauge is refused.
	if err := m.Pending(&pending{}); err == nil {
		t.Error("a second pending gauge was registered")
	}
}

// collectorOf is the one metric of family name, for testutil.
func collectorOf(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x"}, func() float64 { return f.GetMetric()[0].GetGauge().GetValue() })
		}
	}
	t.Fatalf("no %s", name)
	return nil
}

// TestPendingFailureFailsOnlyItsFamily: a store that does not answer
// leaves the gauge out of the scrape, which still serves the rest.
func TestPendingFailureFailsOnlyItsFamily(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	if err := m.Pending(&pending{err: errors.New("timeout")}); err != nil {
		t.Fatal(err)
	}
	m.Started("qualify")
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `playbook_conversations_started_total{playbook="qualify"} 1`) {
		t.Fatalf("%d\n%s", rec.Code, body)
	}
	if strings.Contains(body, "playbook_pending_marks ") {
		t.Errorf("a pending count that failed is in the scrape:\n%s", body)
	}
}

func TestHandlerToken(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	m.Started("qualify")
	h := m.Handler("s3cret-token")
	for _, c := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"s3cret-token", 401}, {"Bearer s3cret-token", 200}} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("Authorization %q: %d, want %d", c.auth, rec.Code, c.want)
		}
		if c.want == 200 && !strings.Contains(rec.Body.String(), "playbook_conversations_started_total") {
			t.Errorf("the scrape lacks the families:\n%s", rec.Body.String())
		}
	}
}

// TestNilMetricsDoNothing: code built without metrics calls the same
// methods.
func TestNilMetricsDoNothing(t *testing.T) {
	var m *metrics.Metrics
	touch(m)
	if err := m.Pending(&pending{}); err != nil {
		t.Fatal(err)
	}
	if m.StoreObserver("redis") != nil || m.Registry() != nil {
		t.Error("a nil Metrics has an observer or a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler("").ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil handler: %d, want 404", rec.Code)
	}
}

// TestSocketGauge: open connections go up and back down.
func TestSocketGauge(t *testing.T) {
	m := metrics.New(prometheus.NewRegistry())
	closeA := m.SocketOpened("visitor")
	closeB := m.SocketOpened("visitor")
	m.SocketOpened("agent")()
	closeA()
	want := `
# HELP playbook_websocket_connections Websocket connections open now, by kind (visitor, agent).
# TYPE playbook_websocket_connections gauge
playbook_websocket_connections{kind="agent"} 0
playbook_websocket_connections{kind="visitor"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "playbook_websocket_connections"); err != nil {
		t.Error(err)
	}
	closeB()
}
