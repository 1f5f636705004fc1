package server_test

import (
	"context"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/servertest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"net/http"
	"strings"
	"testing"
	"time"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
)

// connectsVia opens n visitor websockets in a row with the header
// X-Forwarded-For: xff and returns how many the server refused with 429.
func connectsVia(t *testing.T, ts *testServer, xff string, n int) (refused int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for range n {
		conn, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{Header: http.Header{"X-Forwarded-For": {xff}}})
		if err == nil {
			conn.CloseNow()
			continue
		}
		if pbclient.StatusOf(err) != http.StatusTooManyRequests {
			t.Fatalf("dial: %v", err)
		}
		refused++
	}
	return refused
}

// TestTrustedProxiesSeparateVisitors: behind a trusted proxy (the test's
// loopback connection), each visitor named by X-Forwarded-For has its own
// connection budget; the rightmost untrusted address counts, so a visitor
// cannot pick a fresh budget by prepending addresses.
func TestTrustedProxiesSeparateVisitors(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) {
		c.ConnectsPerMinute = 6 // bursts of 2
		c.TrustedProxies = []string{"127.0.0.1/32", "10.0.0.0/8"}
	})
	if got := connectsVia(t, ts, "203.0.113.5", 3); got != 1 {
		t.Errorf("visitor A: %d of 3 connections refused, want 1 (bursts of 2)", got)
	}
	if got := connectsVia(t, ts, "203.0.113.6, 10.1.2.3", 2); got != 0 {
		t.Errorf("visitor B through two trusted proxies: %d of 2 connections refused, want 0 (its own budget)", got)
	}
	if got := connectsVia(t, ts, "198.51.100.1, 203.0.113.5", 1); got != 1 {
		t.Errorf("visitor A with a made-up address in front: %d of 1 refused, want 1 (A's budget is spent)", got)
	}
}

// TestUntrustedPeerForwardedForIgnored: a peer that is not a trusted proxy
// cannot choose its address with X-Forwarded-For.
func TestUntrustedPeerForwardedForIgnored(t *testing.T) {
	rds := redistest.New(t)
	for _, trusted := range [][]string{nil, {"10.0.0.0/8"}} {
		ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) {
			c.ConnectsPerMinute = 6
			c.TrustedProxies = trusted
		})
		refused := 0
		for i := range 4 {
			refused += connectsVia(t, ts, "203.0.113."+string(rune('1'+i)), 1)
		}
		if refused != 2 {
			t.Errorf("trusted %v: %d of 4 connections with a different X-Forwarded-For each refused, want 2 (one budget for the peer)", trusted, refused)
		}
	}
}

func TestTrustedProxiesBadValue(t *testing.T) {
	rds := redistest.New(t)
	_, err := servertest.New(servertest.Config{Engine: redisstore.NewEngine(rds.Client, rds.Prefix),
		Options: conversation.Options{Playbooks: "../playbooks/bench", Prefix: rds.Prefix}, Config: server.Config{TrustedProxies: []string{"10.0.0.0/33"}}})
	if err == nil || !strings.Contains(err.Error(), `trusted proxy "10.0.0.0/33"`) {
		t.Fatalf("bad CIDR: %v, want an error naming it", err)
	}
}
