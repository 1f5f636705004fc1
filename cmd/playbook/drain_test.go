package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
)

// qualifyDir is a playbooks folder with the reference playbook (qualify).
func qualifyDir(t *testing.T) string {
	t.Helper()
	books := filepath.Join(t.TempDir(), "books")
	if err := os.MkdirAll(books, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(books, "qualify.yaml"), playbooks.BenchQualify, 0o644); err != nil {
		t.Fatal(err)
	}
	return books
}

// httpStatus is GET url's status and body (0 and the error when nothing
// answers).
func httpStatus(url string) (int, string) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// TestServeReadyzFollowsRedis starts `serve --redis` on a redis-server of
// its own, kills the redis-server (SIGKILL) and starts it again on the same
// port: /readyz answers 200, then 503 while Redis is away, then 200 again;
// /livez answers 200 throughout.
func TestServeReadyzFollowsRedis(t *testing.T) {
	redistest.SkipShort(t, "starts serve and redis-server processes")
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but redis-server is not installed")
		}
		t.Skip("redis-server is not installed")
	}
	exe, err := exec.LookPath("playbook")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a guard against a hang
	defer cancel()
	dir := t.TempDir()
	rs, err := bench.StartRedisWith(ctx, dir, bench.RedisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Stop(5 * time.Second) })
	srv, err := bench.StartServer(ctx, exe, []string{"--playbooks", qualifyDir(t), "--redis", rs.URL}, filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop(15 * time.Second)
		if t.Failed() {
			b, _ := os.ReadFile(srv.Log)
			t.Logf("serve's log:\n%s", b)
		}
	})
	waitStatus := func(path string, want int, body string) {
		t.Helper()
		waitFor(ctx, t, fmt.Sprintf("GET %s to answer %d %s", path, want, body), func() bool {
			code, b := httpStatus(srv.URL + path)
			return code == want && strings.Contains(b, body)
		})
	}
	waitStatus("/readyz", 200, "ok")
	rs.Kill()
	waitStatus("/readyz", 503, "store unavailable")
	if code, b := httpStatus(srv.URL + "/livez"); code != 200 {
		t.Errorf("/livez with Redis down: %d %s, want 200 (liveness asks nothing of the store)", code, b)
	}
	port := strings.TrimPrefix(rs.URL, "redis://127.0.0.1:")
	var n int
	fmt.Sscan(port, &n)
	again, err := bench.StartRedisWith(ctx, dir, bench.RedisConfig{Port: n})
	if err != nil {
		t.Fatalf("restarting redis-server on port %d: %v", n, err)
	}
	t.Cleanup(func() { again.Stop(5 * time.Second) })
	waitStatus("/readyz", 200, "ok")
	if code, _ := httpStatus(srv.URL + "/livez"); code != 200 {
		t.Errorf("/livez with Redis back: %d", code)
	}
}

// TestServeDrainsOnSIGTERM: resilient visitors talk through the reference
// conversation with one `serve --redis`; mid-conversation it gets SIGTERM,
// drains (running turns finish, sockets close with 1012) and exits 0; a new
// serve starts on the same port, the visitors reconnect and resume, and
// every conversation completes with no turn lost or doubled: each visitor
// received exactly the reference conversation, and the store holds exactly
// what it received.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	redistest.SkipShort(t, "starts serve processes")
	exe, err := exec.LookPath("playbook")
	if err != nil {
		t.Fatal(err)
	}
	rds := redistest.New(t)
	dir := t.TempDir()
	port := freePort(t)
	args := []string{"--playbooks", qualifyDir(t), "--redis", rds.URL, "--prefix", rds.Prefix,
		"--simulate-presence", "bench", "--connects-per-minute", "-1",
		"--addr", fmt.Sprintf("127.0.0.1:%d", port), "--drain-timeout", "30s"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a guard against a hang
	defer cancel()
	a, err := bench.StartServer(ctx, exe, args, filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(5 * time.Second) })
	logOf := func(s *bench.Server) string {
		b, _ := os.ReadFile(s.Log)
		return string(b)
	}

	// Twelve visitors; SIGTERM once a dozen turns are done in all, while
	// most conversations are halfway.
	const visitors, termAfter = 12, 12
	var turns atomic.Int32
	term := make(chan struct{})
	var once sync.Once
	convs := make([]bench.ResilientConversation, visitors)
	errs := make([]error, visitors)
	var wg sync.WaitGroup
	for i := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			convs[i], errs[i] = bench.ResilientTurns(ctx, []string{a.URL}, 0, bench.ScriptFor(i), 100*time.Millisecond, func(string, time.Time, time.Time) {
				if turns.Add(1) == termAfter {
					once.Do(func() { close(term) })
				}
			})
		}()
	}
	select {
	case <-term:
	case <-ctx.Done():
		t.Fatal("the visitors did not get through a dozen turns")
	}
	if err := a.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termAt := time.Now()
	waitFor(ctx, t, "serve to exit after SIGTERM", a.Exited)
	if code := a.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM, want 0; its log:\n%s", code, logOf(a))
	}
	logA := logOf(a)
	if !strings.Contains(logA, "msg=drained") || strings.Contains(logA, "cut short") {
		t.Errorf("serve did not drain within its timeout; its log:\n%s", logA)
	}
	t.Logf("SIGTERM to exit: %v (measured under load)", time.Since(termAt).Round(time.Millisecond))
	for _, l := range strings.Split(logA, "\n") {
		if strings.Contains(l, "msg=drained") {
			t.Logf("serve: %s", l)
		}
	}

	// A new serve on the same port: the visitors come back to it.
	b, err := bench.StartServer(ctx, exe, args, filepath.Join(dir, "b.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(5 * time.Second) })
	wg.Wait()
	var st bench.ResilientStats
	for i, err := range errs {
		if err != nil {
			t.Errorf("visitor %d: %v", i, err)
		}
		st.Add(convs[i].Stats)
	}
	t.Logf("visitors: %+v", st)
	if t.Failed() {
		t.Fatalf("serve A's log:\n%s\nserve B's log:\n%s", logA, logOf(b))
	}
	if st.Drained == 0 {
		t.Errorf("no visitor's socket was closed with 1012 (the drain's reconnect hint): %+v", st)
	}
	if err := bench.VerifyAll(ctx, rds.Client, rds.Prefix, convs, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}
