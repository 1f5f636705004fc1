package server_test

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/servertest"
)

// pcHandler keeps each record's message and program counter.
type pcHandler struct {
	mu  sync.Mutex
	pcs map[string][]uintptr // message -> the PCs of its records
}

func (h *pcHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *pcHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pcs[r.Message] = append(h.pcs[r.Message], r.PC)
	return nil
}

func (h *pcHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *pcHandler) WithGroup(string) slog.Handler      { return h }

func (h *pcHandler) records(msg string) []uintptr {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]uintptr(nil), h.pcs[msg]...)
}

// TestLogLinesWithoutCaller (issue 13, eleventh round): the lines written
// for every visitor and request (a start's line, with or without the
// access log, and a request's access line) carry no caller: serve's
// handlers print no source, and slog's Logger.LogAttrs walks the stack
// (runtime.Callers) for every line to find it.
func TestLogLinesWithoutCaller(t *testing.T) {
	for _, access := range []bool{false, true} {
		h := &pcHandler{pcs: map[string][]uintptr{}}
		ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) {
			c.Config.AccessLog = access
			c.Config.Logger = slog.New(h)
		})
		c := dial(t, ts)
		c.send(map[string]any{"type": "start", "playbook": "qualify", "page": "https://acme.io/pricing", "locale": "en"})
		c.next("welcome")
		c.send(map[string]any{"type": "ping"})
		c.next("pong") // the start's frame is handled: its line is written
		msg := "conversation started"
		if access {
			resp, _ := get(t, ts.url+"/healthz", nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/healthz: %d", resp.StatusCode)
			}
			msg = "http request"
		}
		want := 1 // the start's
		if access {
			want = 2 // and /healthz's, written once its handler returned
		}
		deadline := time.Now().Add(10 * time.Second) // a guard against a hang
		for len(h.records(msg)) < want && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		pcs := h.records(msg)
		if len(pcs) < want {
			t.Fatalf("access log %v: %d %q lines", access, len(pcs), msg)
		}
		for _, pc := range pcs {
			if pc != 0 {
				t.Errorf("access log %v: a %q line with the caller's PC %#x (runtime.Callers walked the stack)", access, msg, pc)
			}
		}
	}
}
