package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/playbook-dev/playbook/server"
)

// TestPprofWithoutRedis: --pprof on serve without --redis (the embedded
// store, so no Redis client to count commands on) starts the debug
// listener instead of crashing.
func TestPprofWithoutRedis(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	x := &serveExtras{pprof: "127.0.0.1:0", connects: 60}
	if _, err := x.apply(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, server.Config{}); err != nil {
		t.Fatal(err)
	}
}
