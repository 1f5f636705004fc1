package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestReadyURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080":   "http://127.0.0.1:8080/readyz",
		"0.0.0.0:8080":     "http://127.0.0.1:8080/readyz",
		":9000":            "http://127.0.0.1:9000/readyz",
		"[::]:8080":        "http://[::1]:8080/readyz",
		"chat.internal:80": "http://chat.internal:80/readyz",
	} {
		got, err := healthURL(addr, "/readyz")
		if err != nil || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := healthURL("8080", "/readyz"); err == nil {
		t.Error("healthURL(8080): no error")
	}
}

// healthcheck exits 0 when /readyz answers 200 and 1 when it answers 503,
// with the address from PLAYBOOK_ADDR.
func TestHealthcheck(t *testing.T) {
	var notReady atomic.Bool
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/livez" {
			w.Write([]byte("ok")) // live whatever the store says
			return
		}
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		if notReady.Load() {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer ts.Close()
	t.Setenv("PLAYBOOK_ADDR", strings.TrimPrefix(ts.URL, "http://"))
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck"}, nil, &out, &errb); code != 0 {
		t.Fatalf("ready: exit %d, %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "ready: "+ts.URL+"/readyz") {
		t.Errorf("ready: stdout %q", out.String())
	}
	notReady.Store(true)
	errb.Reset()
	if code := run(context.Background(), []string{"healthcheck"}, nil, &out, &errb); code != 1 {
		t.Fatalf("not ready: exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "503 Service Unavailable: store unavailable") {
		t.Errorf("not ready: stderr %q", errb.String())
	}
	// --live asks /livez, which is 200 while /readyz is 503.
	out.Reset()
	if code := run(context.Background(), []string{"healthcheck", "--live"}, nil, &out, &errb); code != 0 {
		t.Fatalf("--live: exit %d, %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "live: "+ts.URL+"/livez") {
		t.Errorf("--live: stdout %q", out.String())
	}
}
