package server_test

import (
	"context"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net/http"
	"testing"
	"time"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// connects opens n visitor websockets from this address in a row and
// returns how many the server refused with 429.
func connects(t *testing.T, ts *testServer, n int) (refused int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range n {
		conn, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{})
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

func TestConnectLimit(t *testing.T) {
	rds := redistest.New(t)
	dir := "../playbooks/bench"
	if got := connects(t, startServer(t, rds, dir), 25); got != 5 {
		t.Errorf("default: %d of 25 connections refused, want 5 (bursts of 20)", got)
	}
	if got := connects(t, startServer(t, rds, dir, func(c *servertest.Config) { c.ConnectsPerMinute = 6 }), 4); got != 2 {
		t.Errorf("6 a minute: %d of 4 connections refused, want 2 (bursts of 2)", got)
	}
	if got := connects(t, startServer(t, rds, dir, func(c *servertest.Config) { c.ConnectsPerMinute = -1 }), 40); got != 0 {
		t.Errorf("no limit: %d of 40 connections refused", got)
	}
}

func TestStatusCarriesOutcome(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	c := dial(t, ts)
	c.start("qualify")
	c.bot("Hi! What brings you here?")
	c.send(map[string]any{"type": "button", "id": "m1", "value": "Just browsing", "label": "Just browsing"})
	for {
		f := c.next("status")
		if f["status"] == "waiting" {
			if _, ok := f["outcome"]; ok {
				t.Fatalf("status %v has an outcome before the end", f)
			}
			continue
		}
		if f["status"] != "ended" || f["outcome"] != "browsing" {
			t.Fatalf("status frame %v, want ended with outcome browsing", f)
		}
		return
	}
}
