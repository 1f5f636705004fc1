package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/internal/bench"
)

// runReferenceServer is `playbook bench --reference-server ADDR`: the
// bench's reference server (bench.Reference) on ADDR, storing in --redis
// under --prefix, with a debug listener on a free loopback port (its
// /debug/vars count the Redis round trips, as serve's --pprof does), until
// ctx ends. It logs the lines `bench` reads from serve: "serving" and
// "debug listener".
func runReferenceServer(ctx context.Context, std *stdio, o *benchOptions) error {
	if err := loopbackURL("http://" + o.referenceServer); err != nil {
		return usageError("--reference-server: %v", err)
	}
	if o.redisURL == "" {
		return usageError("--reference-server needs --redis: the reference server stores turns in Redis")
	}
	for _, n := range splitList(o.redisURL) {
		if err := loopbackURL(strings.Replace(n, "+cluster://", "://", 1)); err != nil {
			return usageError("--redis: %v", err)
		}
	}
	log := slog.New(slog.NewTextHandler(std.err, nil))
	rdb, err := dialRedis(o.redisURL)
	if err != nil {
		return usageError("%v", err)
	}
	defer rdb.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := startDebugListener(ctx, log, "127.0.0.1:0", rdb, nil); err != nil {
		return err
	}
	ref, err := bench.NewReference(rdb, o.prefix, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.referenceServer)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: ref.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		hs.Close()
	}()
	log.Warn("the bench's reference server: a benchmark aid that runs only playbooks/bench/qualify.yaml, not a server for visitors")
	log.Info("serving", "url", "http://"+ln.Addr().String()+"/")
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
