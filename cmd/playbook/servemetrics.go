package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/playbook-dev/playbook/internal/metrics"
	"github.com/playbook-dev/playbook/store"
)

// serveMetrics are serve's flags for Prometheus metrics (docs/metrics.md).
type serveMetrics struct {
	addr  string
	token string
}

func addServeMetrics(fs *flag.FlagSet) *serveMetrics {
	x := &serveMetrics{}
	fs.StringVar(&x.addr, "metrics-addr", "", "serve Prometheus metrics at /metrics on a listener of their own at this address, such as 127.0.0.1:9090 (default: no metrics listener)")
	fs.StringVar(&x.token, "metrics-token", "", "require this bearer token to read /metrics; without --metrics-addr, /metrics is then served on the main listener (prefer PLAYBOOK_METRICS_TOKEN or --metrics-token-file to the command line)")
	return x
}

// build returns the process's metrics on a registry of their own, or nil
// when neither flag asks for them (nothing is counted then).
func (x *serveMetrics) build() *metrics.Metrics {
	if x.addr == "" && x.token == "" {
		return nil
	}
	return metrics.New(prometheus.NewRegistry())
}

// observer is what the storage engine reports its round trips to, nil
// without metrics.
func observer(m *metrics.Metrics, engine string) store.Observer {
	if m == nil {
		return nil
	}
	return m.StoreObserver(engine)
}

// mainToken is the token that serves /metrics on the main listener: set
// only when there is no listener of their own.
func (x *serveMetrics) mainToken() string {
	if x.addr != "" {
		return ""
	}
	return x.token
}

// listen starts the metrics listener (--metrics-addr), which stops when
// ctx ends.
func (x *serveMetrics) listen(ctx context.Context, log *slog.Logger, m *metrics.Metrics) error {
	if x.addr == "" || m == nil {
		if m != nil {
			log.Info("metrics on the main listener at /metrics, with the bearer token of --metrics-token")
		}
		return nil
	}
	ln, err := net.Listen("tcp", x.addr)
	if err != nil {
		return usageError("--metrics-addr %s: %v", x.addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler(x.token))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	log.Info("metrics listener", "url", "http://"+ln.Addr().String()+"/metrics", "token", x.token != "")
	return nil
}
