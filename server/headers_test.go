package server_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// TestPagesSendSecurityHeaders: the inbox and the demo forbid inline
// script, framing and cross-site referrers; the widget's script, which
// customers' sites embed, carries no frame restriction. The pages hold no
// inline script or style the policy would block.
func TestPagesSendSecurityHeaders(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks")
	inlineScript := regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]|<style\b|\son[a-z]+\s*=|\sstyle\s*=|javascript:`)
	for _, p := range []string{"/", "/inbox", "/inbox/", "/static/inbox/index.html", "/static/demo/index.html"} {
		resp, err := http.Get(ts.url + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		h := resp.Header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: Content-Security-Policy %q allows inline script or eval", p, csp)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("GET %s: X-Frame-Options %q, want DENY", p, got)
		}
		if got := h.Get("Referrer-Policy"); got != "same-origin" {
			t.Errorf("GET %s: Referrer-Policy %q, want same-origin", p, got)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options %q, want nosniff", p, got)
		}
		if m := inlineScript.Find(body); m != nil {
			t.Errorf("GET %s: the page has inline script or style the policy blocks: %q", p, m)
		}
	}
	resp, err := http.Get(ts.url + "/widget.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Frame-Options") != "" || strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors") {
		t.Errorf("GET /widget.js: %d, X-Frame-Options %q, CSP %q: the widget must embed anywhere", resp.StatusCode, resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy"))
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("GET /widget.js: no X-Content-Type-Options: nosniff")
	}
}
