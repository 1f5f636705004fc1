package bench_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
)

// needRedisServer skips a test that starts its own redis-server when
// there is none, except in CI, where it fails.
func needRedisServer(t *testing.T) {
	t.Helper()
	redistest.NeedServerBinary(t)
}

// talkAll runs conversations 0..n-1 of the reference mix at once as
// resilient visitors, each pausing think before a turn, and returns what
// each ended with.
func talkAll(t *testing.T, urls []string, n int, think time.Duration) []bench.ResilientConversation {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out := make([]bench.ResilientConversation, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = bench.Resilient(ctx, urls, i, bench.ScriptFor(i), think)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("conversation %d: %v", i, err)
		}
	}
	return out
}

func sumStats(convs []bench.ResilientConversation) bench.ResilientStats {
	var s bench.ResilientStats
	for _, c := range convs {
		s.Add(c.Stats)
	}
	return s
}

// TestRedisRestartMidConversation kills Redis (SIGKILL; it keeps an
// append-only file fsynced at every write) while 20 visitors are in the
// middle of their conversations, and starts it again a second later on the
// same port and files. The server answers "unavailable" meanwhile, the
// visitors send again (same client ids), and every conversation ends
// exactly as the reference says: no entry lost, none doubled, the store
// holding exactly what the visitors saw, and every lead in the CRM.
func TestRedisRestartMidConversation(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	ctx := context.Background()
	rs, err := bench.StartRedisWith(ctx, dir, bench.RedisConfig{AOF: true})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	t.Cleanup(func() { mu.Lock(); defer mu.Unlock(); rs.Stop(5 * time.Second) })
	opt, _ := redis.ParseURL(rs.URL)
	opt.MaxRetries = -1 // the server's own retries are under test, not go-redis's
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	rds := &redistest.Server{Client: rdb, Prefix: "fault:", URL: rs.URL}
	url := startServerOn(t, playbooks.BenchQualify, rds, rdb)

	const n = 20
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		time.Sleep(600 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		rs.Kill()
		time.Sleep(time.Second)
		port := opt.Addr[len("127.0.0.1:"):]
		var p int
		fmt.Sscan(port, &p)
		again, err := bench.StartRedisWith(ctx, dir, bench.RedisConfig{AOF: true, Port: p})
		if err != nil {
			t.Errorf("restarting redis-server: %v", err)
			return
		}
		rs = again
	}()
	convs := talkAll(t, []string{url}, n, 250*time.Millisecond)
	<-killed
	if t.Failed() {
		return
	}
	stats := sumStats(convs)
	t.Logf("through the restart: %+v", stats)
	if stats.Unavailable == 0 {
		t.Fatalf("no visitor met the outage (%+v): the test did not test it", stats)
	}
	if err := bench.VerifyAll(context.Background(), rdb, rds.Prefix, convs, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// slowProxy forwards loopback TCP connections to target, holding every
// chunk of data delay before passing it on, in both directions: a slow
// network between the server and Redis.
func slowProxy(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	pipe := func(dst, src net.Conn) {
		defer dst.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				time.Sleep(delay)
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			r, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			go pipe(r, c)
			go pipe(c, r)
		}
	}()
	return l.Addr().String()
}

// TestSlowRedis puts 15 ms each way between the server and Redis (a turn's
// few round trips take tens of milliseconds): 20 conversations still end
// exactly as the reference says, with the store and the CRM in step.
func TestSlowRedis(t *testing.T) {
	rds := redistest.New(t)
	opt, err := redis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.Addr = slowProxy(t, opt.Addr, 15*time.Millisecond)
	slow := redis.NewClient(opt)
	t.Cleanup(func() { slow.Close() })
	url := startServerOn(t, playbooks.BenchQualify, rds, slow)
	start := time.Now()
	convs := talkAll(t, []string{url}, 20, 0)
	t.Logf("20 conversations through a slow Redis in %v: %+v", time.Since(start).Round(time.Millisecond), sumStats(convs))
	if t.Failed() {
		return
	}
	if err := bench.VerifyAll(context.Background(), rds.Client, rds.Prefix, convs, 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// TestReadyzFollowsRedis stops (SIGKILL) the one Redis a server uses and
// starts it again on the same port: /readyz answers 503 while Redis is
// away and 200 again once it is back, and /healthz (liveness) answers 200
// throughout.
func TestReadyzFollowsRedis(t *testing.T) {
	needRedisServer(t)
	dir := t.TempDir()
	ctx := context.Background()
	rs, err := bench.StartRedisWith(ctx, dir, bench.RedisConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Stop(5 * time.Second) })
	opt, _ := redis.ParseURL(rs.URL)
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	url := startServerOn(t, playbooks.BenchQualify, &redistest.Server{Client: rdb, Prefix: "ready:", URL: rs.URL}, rdb)

	status := func(path string) int {
		resp, err := http.Get(url + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	waitStatus := func(path string, want int) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second) // a guard against a hang
		for status(path) != want {
			if time.Now().After(deadline) {
				t.Fatalf("GET %s never answered %d", path, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if s := status("/readyz"); s != http.StatusOK {
		t.Fatalf("/readyz with Redis up: %d", s)
	}
	rs.Kill()
	waitStatus("/readyz", http.StatusServiceUnavailable)
	if s := status("/healthz"); s != http.StatusOK {
		t.Fatalf("/healthz with Redis down: %d, want 200 (liveness asks nothing of the store)", s)
	}
	var port int
	fmt.Sscan(opt.Addr[len("127.0.0.1:"):], &port)
	again, err := bench.StartRedisWith(ctx, dir, bench.RedisConfig{Port: port})
	if err != nil {
		t.Fatalf("restarting redis-server: %v", err)
	}
	rs = again
	waitStatus("/readyz", http.StatusOK)
}
