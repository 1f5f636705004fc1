// Package metrics holds Playbook's Prometheus metrics: every family the
// server exports, registered on a registry its caller builds (the binary's,
// or a test's own), never on the global default one.
//
// The work is counted where it happens: package conversation counts
// turns, conversations, handoffs, missed chats, queue waits and timers;
// package crm counts records and webhook deliveries; the storage engines
// report their round trips through a store.Observer (StoreObserver); the
// transport counts websocket connections. Each of them holds a *Metrics
// that may be nil: every method of a nil *Metrics does nothing, so code
// and tests that want no metrics pass none.
//
// Labels are bounded: playbook ids, outcomes and team names come from the
// playbooks, event kinds and states from the code; never a conversation
// id, a visitor or an email.
package metrics

import (
	"context"
	"crypto/subtle"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace starts the name of every family.
const Namespace = "playbook"

// Metrics is every family, registered on one registry.
type Metrics struct {
	reg *prometheus.Registry

	turns        *prometheus.CounterVec
	turnSeconds  *prometheus.HistogramVec
	started      *prometheus.CounterVec
	ended        *prometheus.CounterVec
	handoffs     *prometheus.CounterVec
	queueWait    *prometheus.HistogramVec
	missed       *prometheus.CounterVec
	records      *prometheus.CounterVec
	webhooks     *prometheus.CounterVec
	webhookTime  prometheus.Histogram
	storeSeconds *prometheus.HistogramVec
	storeErrors  *prometheus.CounterVec
	sockets      *prometheus.GaugeVec
	socketsTotal *prometheus.CounterVec
	timers       *prometheus.CounterVec
	timerLag     prometheus.Histogram
}

// New registers every family on reg, with Go's runtime and the process's
// collectors, and returns them. reg is usually prometheus.NewRegistry():
// one per process, or one per test.
func New(reg *prometheus.Registry) *Metrics {
	latency := []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	m := &Metrics{
		reg: reg,
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "turns_total",
			Help: "Turns stored (an event run through a conversation: a visitor's message or choice, a timer, an agent joining...), by playbook and event."},
			[]string{"playbook", "event"}),
		turnSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "turn_duration_seconds",
			Help:    "Time from the start of a turn until its answer is stored and can be sent (the engine's step, the store's round trip, a handoff's queueing), by playbook.",
			Buckets: latency}, []string{"playbook"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "conversations_started_total",
			Help: "Conversations started, by playbook."}, []string{"playbook"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "conversations_ended_total",
			Help: "Conversations whose bot part ended, by playbook and outcome (the end card's; \"failed\" when a runtime error stopped the bot)."},
			[]string{"playbook", "outcome"}),
		handoffs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "handoffs_total",
			Help: "Chats the bot handed to a team's queue, by playbook and team."}, []string{"playbook", "team"}),
		queueWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "queue_wait_seconds",
			Help:    "Time a handed-off chat waited in its team's queue until an agent (or the team's routing) took it, by team.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600}}, []string{"team"}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "missed_chats_total",
			Help: "Handed-off chats nobody took before the handoff's wait ran out (or the visitor left a message instead), by team."},
			[]string{"team"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "records_created_total",
			Help: "CRM records created (by the bot's create cards and by agents; a repeated idempotency key creates nothing), by kind."},
			[]string{"kind"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "webhook_deliveries_total",
			Help: "Webhook delivery attempts and their outcome, by event type: delivered (2xx), retry (failed, tried again later), dead (failed past the retry window: dead-lettered), cancelled (the subscription or the event is gone)."},
			[]string{"event", "outcome"}),
		webhookTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "webhook_request_duration_seconds",
			Help:    "Time a webhook endpoint took to answer one delivery attempt (or to fail).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10}}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "store_round_trip_seconds",
			Help:    "Round trips to the storage engine and their duration, by engine (redis, embedded) and operation (redis: command or pipeline; embedded: read or commit).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1}},
			[]string{"engine", "op"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "store_errors_total",
			Help: "Round trips to the storage engine that failed (a connection lost, a timeout, a failed commit; not a missing key), by engine and operation."},
			[]string{"engine", "op"}),
		sockets: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "websocket_connections",
			Help: "Websocket connections open now, by kind (visitor, agent)."}, []string{"kind"}),
		socketsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "websocket_connections_opened_total",
			Help: "Websocket connections accepted, by kind (visitor, agent)."}, []string{"kind"}),
		timers: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "timers_due_total",
			Help: "Timers that came due and that this process claimed and fired, by kind (playbook: a wait or handoff timer of a playbook; snooze: an agent's snoozed chat)."},
			[]string{"kind"}),
		timerLag: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Name: "timer_lag_seconds",
			Help:    "How late a due timer was claimed, after the time it was set for.",
			Buckets: []float64{.1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
	}
	reg.MustRegister(m.turns, m.turnSeconds, m.started, m.ended, m.handoffs, m.queueWait, m.missed, m.records,
		m.webhooks, m.webhookTime, m.storeSeconds, m.storeErrors, m.sockets, m.socketsTotal, m.timers, m.timerLag,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Registry is the registry the families are on.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the families in Prometheus's text format (or
// OpenMetrics, when the scraper asks for it). A token that is not empty
// must come with each request as "Authorization: Bearer TOKEN"; a request
// without it gets 401. A nil *Metrics serves 404.
func (m *Metrics) Handler(token string) http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	h := promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true, ErrorHandling: promhttp.ContinueOnError})
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "missing or wrong metrics token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// PendingCounter is what the pending marks gauge reads (store.PendingMarks).
type PendingCounter interface {
	PendingCount(ctx context.Context) (int64, error)
}

// Pending registers playbook_pending_marks, read from st at each scrape
// (one round trip, bounded to 2 s; a failed read is left out of the scrape
// and counted in playbook_store_errors_total by the engine). It fails when
// the gauge is registered already: one store per Metrics.
func (m *Metrics) Pending(st PendingCounter) error {
	if m == nil || st == nil {
		return nil
	}
	return m.reg.Register(&pendingCollector{st: st, desc: prometheus.NewDesc(Namespace+"_pending_marks",
		"Turns whose work outside the transcript (records, queueing a handoff, webhook events) is not done yet: normally a few in flight; a number that grows means the work keeps failing and waits for the recovery sweep.",
		nil, nil)})
}

type pendingCollector struct {
	st   PendingCounter
	desc *prometheus.Desc
}

func (c *pendingCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *pendingCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := c.st.PendingCount(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n))
}

// Turn counts a stored turn of playbook for event, which took d.
func (m *Metrics) Turn(playbook, event string, d time.Duration) {
	if m == nil {
		return
	}
	m.turns.WithLabelValues(playbook, event).Inc()
	m.turnSeconds.WithLabelValues(playbook).Observe(d.Seconds())
}

// Started counts a conversation started on playbook.
func (m *Metrics) Started(playbook string) {
	if m != nil {
		m.started.WithLabelValues(playbook).Inc()
	}
}

// Ended counts a conversation of playbook whose bot part ended with
// outcome.
func (m *Metrics) Ended(playbook, outcome string) {
	if m != nil {
		m.ended.WithLabelValues(playbook, outcome).Inc()
	}
}

// Handoff counts a chat of playbook handed to team.
func (m *Metrics) Handoff(playbook, team string) {
	if m != nil {
		m.handoffs.WithLabelValues(playbook, team).Inc()
	}
}

// QueueWait records that a chat of team waited d in the queue before an
// agent took it.
func (m *Metrics) QueueWait(team string, d time.Duration) {
	if m != nil {
		m.queueWait.WithLabelValues(team).Observe(max(0, d.Seconds()))
	}
}

// Missed counts a chat of team nobody took in time.
func (m *Metrics) Missed(team string) {
	if m != nil {
		m.missed.WithLabelValues(team).Inc()
	}
}

// RecordCreated counts a CRM record of kind created.
func (m *Metrics) RecordCreated(kind string) {
	if m != nil {
		m.records.WithLabelValues(kind).Inc()
	}
}

// Webhook outcomes (playbook_webhook_deliveries_total's outcome label).
const (
	WebhookDelivered = "delivered"
	WebhookRetry     = "retry"
	WebhookDead      = "dead"
	WebhookCancelled = "cancelled"
)

// Webhook counts a delivery attempt of an event of type event that ended
// in outcome (WebhookDelivered, ...); took is how long the endpoint took
// (0: no request was sent).
func (m *Metrics) Webhook(event, outcome string, took time.Duration) {
	if m == nil {
		return
	}
	m.webhooks.WithLabelValues(event, outcome).Inc()
	if took > 0 {
		m.webhookTime.Observe(took.Seconds())
	}
}

// SocketOpened counts a websocket connection of kind (visitor, agent)
// accepted; call the function it returns when the connection closes.
func (m *Metrics) SocketOpened(kind string) (closed func()) {
	if m == nil {
		return func() {}
	}
	m.socketsTotal.WithLabelValues(kind).Inc()
	g := m.sockets.WithLabelValues(kind)
	g.Inc()
	return g.Dec
}

// TimerDue counts a timer of kind (playbook, snooze) claimed late by lag.
func (m *Metrics) TimerDue(kind string, lag time.Duration) {
	if m == nil {
		return
	}
	m.timers.WithLabelValues(kind).Inc()
	m.timerLag.Observe(max(0, lag.Seconds()))
}

// StoreObserver returns what a storage engine tells of its round trips
// (store.Observer), labelled with engine ("redis", "embedded"). A nil
// *Metrics returns nil: no observer.
func (m *Metrics) StoreObserver(engine string) *StoreObserver {
	if m == nil {
		return nil
	}
	return &StoreObserver{m: m, engine: engine}
}

// StoreObserver counts one engine's round trips (store.Observer).
type StoreObserver struct {
	m      *Metrics
	engine string
}

// RoundTrip records one round trip of kind op that took d and failed with
// err (nil when it did not).
func (o *StoreObserver) RoundTrip(op string, d time.Duration, err error) {
	if o == nil {
		return
	}
	o.m.storeSeconds.WithLabelValues(o.engine, op).Observe(d.Seconds())
	if err != nil {
		o.m.storeErrors.WithLabelValues(o.engine, op).Inc()
	}
}

// Families lists the name of every family New and Pending register
// (besides Go's and the process's collectors), for docs/metrics.md and
// the dashboard's tests.
func Families() []string {
	return []string{
		Namespace + "_turns_total",
		Namespace + "_turn_duration_seconds",
		Namespace + "_conversations_started_total",
		Namespace + "_conversations_ended_total",
		Namespace + "_handoffs_total",
		Namespace + "_queue_wait_seconds",
		Namespace + "_missed_chats_total",
		Namespace + "_records_created_total",
		Namespace + "_webhook_deliveries_total",
		Namespace + "_webhook_request_duration_seconds",
		Namespace + "_store_round_trip_seconds",
		Namespace + "_store_errors_total",
		Namespace + "_websocket_connections",
		Namespace + "_websocket_connections_opened_total",
		Namespace + "_timers_due_total",
		Namespace + "_timer_lag_seconds",
		Namespace + "_pending_marks",
	}
}
