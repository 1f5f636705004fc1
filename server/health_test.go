package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/store/embedded"
)

// startEmbedded is startServer on the embedded engine (no Redis: the fast
// tier runs it).
func startEmbedded(t *testing.T, dir string, mod ...func(*servertest.Config)) *testServer {
	t.Helper()
	db, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	onEmbedded := func(c *servertest.Config) { c.Engine = embedded.NewEngine(db) }
	return startServer(t, &redistest.Server{Prefix: "pb:"}, dir, append([]func(*servertest.Config){onEmbedded}, mod...)...)
}

// get answers GET url's status and body; hdr, when set, are its headers.
func get(t *testing.T, url string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestLivezReadyzAndDrain: /livez and its alias /healthz answer 200 while
// the process runs, whatever the store says; /readyz answers 200 while the
// Ready check passes, 503 "store unavailable" while it fails, and 503
// "draining" once the App drains (livez stays 200; new visitors are still
// served until the server's own Drain).
func TestLivezReadyzAndDrain(t *testing.T) {
	var down atomic.Bool
	ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) {
		c.Config.Ready = func(ctx context.Context) error {
			if down.Load() {
				return errors.New("connection refused")
			}
			return c.Engine.Ping(ctx)
		}
	})
	status := func(path string) (int, string) {
		resp, body := get(t, ts.url+path, nil)
		return resp.StatusCode, body
	}
	for _, p := range []string{"/livez", "/healthz", "/readyz"} {
		if code, body := status(p); code != 200 || body != "ok" {
			t.Errorf("%s: %d %q, want 200 ok", p, code, body)
		}
	}
	down.Store(true)
	if code, body := status("/readyz"); code != 503 || !strings.Contains(body, "store unavailable") {
		t.Errorf("/readyz with the store down: %d %q, want 503 store unavailable", code, body)
	}
	if code, _ := status("/livez"); code != 200 {
		t.Errorf("/livez with the store down: %d, want 200", code)
	}
	down.Store(false)
	if code, _ := status("/readyz"); code != 200 {
		t.Errorf("/readyz with the store back: %d, want 200", code)
	}
	ts.srv.App().Drain()
	if code, body := status("/readyz"); code != 503 || !strings.Contains(body, "draining") {
		t.Errorf("/readyz while draining: %d %q, want 503 draining", code, body)
	}
	// Until the server's own Drain it still serves new visitors (serve
	// --drain-delay: the load balancer sees /readyz first).
	c := dial(t, ts)
	c.start("qualify")
	for _, p := range []string{"/livez", "/healthz"} {
		if code, _ := status(p); code != 200 {
			t.Errorf("%s while draining: %d, want 200", p, code)
		}
	}
}

// TestAccessLog: one line per request with its id (the caller's
// X-Request-Id when it is a plain token, else a new one, answered either
// way), method, route pattern, status, duration and bytes; never the query
// string, the raw path's ids, an email or a token, and no client address
// without LogIPs.
func TestAccessLog(t *testing.T) {
	for _, logIPs := range []bool{false, true} {
		ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) {
			c.Config.AccessLog = true
			c.Config.LogIPs = logIPs
		})
		const email, token = "ana.secret@acme.io", "tok-3f9a8b7c6d5e4f30"
		// A route with an id and a query string, answered 401 (no sign-in).
		resp, _ := get(t, ts.url+"/api/conversations/c-ana-secret-id?email="+email+"&token="+token, http.Header{"X-Request-Id": {"req-42"}})
		if got := resp.Header.Get("X-Request-Id"); got != "req-42" {
			t.Errorf("X-Request-Id answered %q, want the caller's req-42", got)
		}
		// An id that is not a plain token is replaced, not logged.
		resp, _ = get(t, ts.url+"/readyz?email="+email, http.Header{"X-Request-Id": {email}})
		fresh := resp.Header.Get("X-Request-Id")
		if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(fresh) {
			t.Errorf("X-Request-Id answered %q for a request id with an email, want a new one", fresh)
		}
		resp, _ = get(t, ts.url+"/no/such/page/"+email, nil)
		if resp.StatusCode != 404 {
			t.Fatalf("an unknown page: %d", resp.StatusCode)
		}
		c := dial(t, ts) // a websocket: its upgrade is one line
		c.start("qualify")

		// The upgrade's line follows its 101, which the client has seen.
		var lines []string
		deadline := time.Now().Add(10 * time.Second) // a guard against a hang
		for {
			lines = lines[:0]
			for _, l := range strings.Split(ts.log.String(), "\n") {
				if strings.Contains(l, `msg="http request"`) {
					lines = append(lines, l)
				}
			}
			if len(lines) >= 4 || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		want := []*regexp.Regexp{
			regexp.MustCompile(`id=req-42 method=GET route=/api/conversations/:id status=401 duration=\S+ bytes=[1-9]`),
			regexp.MustCompile(`id=` + fresh + ` method=GET route=/readyz status=200 duration=\S+ bytes=2\b`),
			regexp.MustCompile(`id=[0-9a-f]{16} method=GET route=- status=404 `),
			regexp.MustCompile(`id=[0-9a-f]{16} method=GET route=/ws/visitor status=101 `),
		}
		if len(lines) != len(want) {
			t.Errorf("LogIPs %v: %d access log lines, want %d:\n%s", logIPs, len(lines), len(want), strings.Join(lines, "\n"))
		}
		for i, re := range want {
			if i < len(lines) && !re.MatchString(lines[i]) {
				t.Errorf("LogIPs %v: line %d is\n%s\nwant it to match %s", logIPs, i+1, lines[i], re)
			}
		}
		log := ts.log.String()
		for _, secret := range []string{email, "ana.secret", token, "c-ana-secret-id", "?", "/no/such"} {
			if strings.Contains(strings.Join(lines, "\n"), secret) {
				t.Errorf("LogIPs %v: the access log holds %q:\n%s", logIPs, secret, log)
			}
		}
		if hasIP := strings.Contains(strings.Join(lines, "\n"), "ip=127.0.0.1"); hasIP != logIPs {
			t.Errorf("LogIPs %v: client address logged: %v\n%s", logIPs, hasIP, strings.Join(lines, "\n"))
		}
	}
}
