package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/playbook-dev/playbook/internal/servertest"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/redistest"
)

// entriesOf returns the entry frames among frames.
func entriesOf(frames []map[string]any) []map[string]any {
	var out []map[string]any
	for _, f := range frames {
		if f["type"] == "entry" {
			out = append(out, f["entry"].(map[string]any))
		}
	}
	return out
}

func TestDuplicateClientIDRunsOnce(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	c := dial(t, ts)
	_, conv := c.start("qualify")
	c.bot("Hi! What brings you here?")
	first := c.say("m1", "Talk to sales")
	c.bot("What's your work email?")
	again := c.say("m1", "Talk to sales")
	if again["duplicate"] != true || again["entry"] != first["entry"] {
		t.Fatalf("resend ack = %v, want duplicate of %v", again, first)
	}
	if extra := entriesOf(c.settle()); len(extra) != 0 {
		t.Fatalf("a resend produced new entries: %v", extra)
	}
	entries, _ := ts.srv.App().Sessions().Transcript(context.Background(), conv, "", 0)
	visitor := 0
	for _, e := range entries {
		if e.From == "visitor" {
			visitor++
		}
	}
	if visitor != 1 || len(entries) != 3 {
		t.Fatalf("transcript has %d entries (%d from the visitor), want 3 (1)", len(entries), visitor)
	}
}

// TestTwoTabsAtOnce sends two different answers at the same instant from
// two tabs of one conversation: the session moves exactly twice, both tabs
// see every entry once, and the transcript has no duplicates.
func TestTwoTabsAtOnce(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	a := dial(t, ts)
	token, conv := a.start("qualify")
	a.bot("Hi! What brings you here?")
	a.say("a1", "Talk to sales")
	a.bot("What's your work email?")
	b := dial(t, ts)
	b.send(map[string]any{"type": "resume", "token": token, "after": ""})
	b.next("welcome")
	if got := len(entriesOf(b.settle())); got != 3 { // the replay comes before the pong
		t.Fatalf("tab b replayed %d entries, want 3", got)
	}
	var wg sync.WaitGroup
	for _, x := range []struct {
		c    *client
		id   string
		text string
	}{{a, "a2", "not an email"}, {b, "b1", "also not an email"}} {
		wg.Add(1)
		go func() { defer wg.Done(); x.c.send(map[string]any{"type": "message", "id": x.id, "text": x.text}) }()
	}
	wg.Wait()
	// Each message is stored when its ack comes.
	if ack := a.next("ack"); ack["id"] != "a2" {
		t.Fatalf("tab a: ack %v", ack)
	}
	if ack := b.next("ack"); ack["id"] != "b1" {
		t.Fatalf("tab b: ack %v", ack)
	}
	sess, _, err := ts.srv.App().Sessions().Load(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Tries != 2 {
		t.Fatalf("session counted %d invalid answers, want 2 (each message once)", sess.Tries)
	}
	all, _ := ts.srv.App().Sessions().Transcript(context.Background(), conv, "", 0)
	for _, tab := range []*client{a, b} {
		// Wait for the transcript's last entry (the other tab's turn comes
		// through Redis), then for anything else the tab was sent by then.
		last := all[len(all)-1].ID
		entries := tab.entriesUntil("the transcript's last entry", func(es []map[string]any) bool {
			return len(es) > 0 && es[len(es)-1]["id"] == last
		})
		got := map[string]int{}
		for _, e := range append(entries, entriesOf(tab.settle())...) {
			got[e["id"].(string)]++
		}
		for id, n := range got {
			if n > 1 {
				t.Errorf("a tab got entry %s %d times", id, n)
			}
		}
		// Each tab sees everything after what it had: the 2 visitor messages
		// and 2 × (hint + question).
		if len(got) != 6 {
			t.Errorf("a tab got %d new entries, want 6 (transcript has %d)", len(got), len(all))
		}
	}
	if len(all) != 9 {
		t.Fatalf("transcript has %d entries, want 9", len(all))
	}
}

func TestResumeReplaysOnlyWhatWasMissed(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	a := dial(t, ts)
	token, _ := a.start("qualify")
	greet := a.bot("Hi! What brings you here?")
	a.conn.Close()
	// Meanwhile, another tab answers.
	b := dial(t, ts)
	b.send(map[string]any{"type": "resume", "token": token, "after": greet["id"]})
	b.next("welcome")
	b.say("b1", "Just browsing")
	b.bot("Enjoy! Ping us anytime.")
	// The first tab comes back with the last id it saw.
	a2 := dial(t, ts)
	a2.send(map[string]any{"type": "resume", "token": token, "after": greet["id"]})
	a2.next("welcome")
	got := entriesOf(a2.settle()) // the replay comes before the pong
	var texts []string
	for _, e := range got {
		text, _ := e["text"].(string)
		texts = append(texts, fmt.Sprint(e["from"], ":", e["kind"], ":", text))
	}
	want := []string{"visitor:message:Just browsing", "bot:message:Enjoy! Ping us anytime.", "system:end:"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Fatalf("replayed %v, want %v", texts, want)
	}
}

// TestTwoServersShareConversations starts a conversation on one server and
// continues it on another (two servers on one Redis, as two processes would
// be): nothing is lost or repeated, and a message sent through B reaches a
// tab still connected to A.
func TestTwoServersShareConversations(t *testing.T) {
	rds := redistest.New(t)
	srvA := startServer(t, rds, "../playbooks/bench")
	srvB := startServer(t, rds, "../playbooks/bench")
	a := dial(t, srvA)
	token, conv := a.start("qualify")
	a.bot("Hi! What brings you here?")
	a.say("m1", "Talk to sales")
	email := a.bot("What's your work email?")
	b := dial(t, srvB)
	b.send(map[string]any{"type": "resume", "token": token, "after": email["id"]})
	b.next("welcome")
	b.say("m2", "ana@acme7.com")
	b.bot("How many employees?")
	// A still follows the conversation and sees B's turn live.
	live := a.entriesUntil("B's turn on A", func(es []map[string]any) bool {
		return len(es) > 0 && es[len(es)-1]["text"] == "How many employees?"
	})
	if len(live) != 2 || live[0]["text"] != "ana@acme7.com" || live[1]["text"] != "How many employees?" {
		t.Fatalf("tab on A saw %v, want the visitor's answer and the next question", live)
	}
	b.say("m3", "201+")
	b.bot("Monthly budget in USD?")
	b.say("m4", "1500")
	b.bot("Our team is offline, we will email you")
	sess, _, _ := srvA.srv.App().Sessions().Load(context.Background(), conv)
	if sess.Outcome != "lead" {
		t.Fatalf("outcome %q, want lead", sess.Outcome)
	}
	all, _ := srvA.srv.App().Sessions().Transcript(context.Background(), conv, "", 0)
	seen := map[string]bool{}
	for _, e := range all {
		k := e.From + e.Text + e.Kind
		if e.Kind == "message" && seen[k] {
			t.Errorf("repeated entry %q", k)
		}
		seen[k] = true
	}
}

func TestBadInputGetsErrorFrames(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) { c.TokenTTL = time.Second })
	c := dial(t, ts)
	expect := func(code string) {
		t.Helper()
		f := c.next("error")
		if f["code"] != code || f["message"] == "" {
			t.Fatalf("error frame = %v, want code %s", f, code)
		}
	}
	c.conn.SendRaw(c.ctx, []byte(`{"type": "message", "text": `))
	expect("bad_json")
	c.conn.SendRaw(c.ctx, []byte(`[1, 2, 3]`))
	expect("bad_json")
	c.send(map[string]any{"type": "dance"})
	expect("unknown_type")
	c.send(map[string]any{"type": "message", "id": "x", "text": "hi"})
	expect("no_conversation")
	c.send(map[string]any{"type": "resume", "token": "abc.123.forged"})
	expect("bad_token")
	big := strings.Repeat("a", 100<<10)
	c.send(map[string]any{"type": "message", "id": "big", "text": big})
	expect("too_large")
	c.send(map[string]any{"type": "start", "playbook": "nope"})
	expect("no_playbook")
	token, _ := c.start("qualify")
	c.bot("Hi! What brings you here?")
	c.send(map[string]any{"type": "message", "id": "long", "text": strings.Repeat("é", 4001)})
	expect("invalid")
	c.send(map[string]any{"type": "message", "id": "", "text": "hi"})
	expect("invalid")
	// The connection still works after all that.
	c.send(map[string]any{"type": "ping"})
	c.next("pong")
	time.Sleep(2100 * time.Millisecond)
	c2 := dial(t, ts)
	c2.send(map[string]any{"type": "resume", "token": token})
	f := c2.next("error")
	if f["code"] != "expired_token" {
		t.Fatalf("expired token answered %v", f)
	}
	// A 1 MiB frame closes that connection with 1009, and only that one.
	c3 := dial(t, ts)
	c3.conn.SendRaw(c3.ctx, []byte(`{"type":"message","text":"`+strings.Repeat("x", 1<<20)+`"}`))
	for range c3.frames {
	}
	c2.send(map[string]any{"type": "ping"})
	c2.next("pong")
}

func TestRateLimit(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	c := dial(t, ts)
	c.start("qualify")
	limited := 0
	for i := range 15 {
		c.send(map[string]any{"type": "message", "id": fmt.Sprint("r", i), "text": "Just browsing"})
	}
	for _, f := range c.settle() { // every message is answered before the pong
		if f["type"] == "error" && f["code"] == "rate_limited" {
			limited++
		}
	}
	if limited != 5 {
		t.Fatalf("%d of 15 rapid messages were rate limited, want 5 (burst of 10)", limited)
	}
}

func TestOriginRefused(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{Origin: "https://evil.example"})
	if pbclient.StatusOf(err) != http.StatusForbidden {
		t.Fatalf("dial from a foreign origin: %v, want 403", err)
	}
}

// TestBrokenEditKeepsOldVersion breaks a playbook while the server runs:
// the log shows the diagnostics, new visitors get the old version, and a
// later good edit goes live while conversations started before it finish
// on their own version.
func TestBrokenEditKeepsOldVersion(t *testing.T) {
	rds := redistest.New(t)
	dir := copyPlaybooks(t)
	ts := startServer(t, rds, dir)
	file := filepath.Join(dir, "qualify.yaml")
	orig, _ := os.ReadFile(file)
	c := dial(t, ts)
	_, conv := c.start("qualify")
	c.bot("Hi! What brings you here?")

	broken := strings.Replace(string(orig), "goto: browsing", "goto: browsng", 1)
	if broken == string(orig) {
		t.Fatal("the edit did not apply")
	}
	os.WriteFile(file, []byte(broken), 0o644)
	waitFor(t, func() bool {
		return strings.Contains(ts.log.String(), `there is no card \"browsng\"`) || strings.Contains(ts.log.String(), `there is no card "browsng"`)
	})
	if !strings.Contains(ts.log.String(), "qualify.yaml:") {
		t.Fatalf("log lacks the file position:\n%s", ts.log.String())
	}
	n := dial(t, ts)
	n.start("qualify")
	n.bot("Hi! What brings you here?")

	fixed := strings.Replace(string(orig), "Hi! What brings you here?", "Hello! What brings you here?", 1)
	os.WriteFile(file, []byte(fixed), 0o644)
	waitFor(t, func() bool {
		return strings.Count(ts.log.String(), "playbook loaded\" playbook=qualify") >= 2 || strings.Count(ts.log.String(), "playbook loaded playbook=qualify") >= 2
	})
	m := dial(t, ts)
	m.start("qualify")
	m.bot("Hello! What brings you here?")
	// The first conversation goes on with the version it started on.
	c.say("x1", "Just browsing")
	c.bot("Enjoy! Ping us anytime.")
	sess, _, _ := ts.srv.App().Sessions().Load(context.Background(), conv)
	if sess.Outcome != "browsing" {
		t.Fatalf("old conversation outcome %q", sess.Outcome)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // only a guard against a hang
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminAPI(t *testing.T) {
	rds := redistest.New(t)
	dir := copyPlaybooks(t)
	ts := startServer(t, rds, dir, func(c *servertest.Config) { c.AdminToken = "s3cret" })
	do := func(method, path, token, body string, hdr ...string) (int, map[string]any) {
		req, _ := http.NewRequest(method, ts.url+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		var list []any
		b := new(strings.Builder)
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if json.Unmarshal([]byte(b.String()), &out) != nil {
			json.Unmarshal([]byte(b.String()), &list)
			out = map[string]any{"list": list}
		}
		return resp.StatusCode, out
	}
	if code, _ := do("GET", "/api/playbooks", "", ""); code != 401 {
		t.Fatalf("no token: %d, want 401", code)
	}
	if code, _ := do("GET", "/api/playbooks", "wrong", ""); code != 401 {
		t.Fatalf("wrong token: %d, want 401", code)
	}
	code, out := do("GET", "/api/playbooks", "s3cret", "")
	if want := playbooksIn(t, dir); code != 200 || len(out["list"].([]any)) != want {
		t.Fatalf("list: %d %v, want %d playbooks", code, out, want)
	}
	bad := "playbook: x\ncards:\n  a:\n    goto: nowhere\n"
	code, out = do("POST", "/api/playbooks", "s3cret", bad, "X-Playbook-File", "x.yaml")
	diags, _ := out["diagnostics"].([]any)
	if code != 422 || out["ok"] != false || len(diags) == 0 {
		t.Fatalf("bad playbook: %d %v", code, out)
	}
	d := diags[0].(map[string]any)
	if d["severity"] != "error" || !strings.Contains(d["message"].(string), "nowhere") {
		t.Fatalf("diagnostic = %v", d)
	}
	good := "playbook: hello\ncards:\n  a:\n    say: Hello from the API\n    end: done\n"
	code, out = do("POST", "/api/playbooks?activate=true", "s3cret", good, "X-Playbook-File", "hello.yaml")
	if code != 200 || out["activated"] != true || out["id"] != "hello" {
		t.Fatalf("activate: %d %v", code, out)
	}
	c := dial(t, ts)
	c.start("hello")
	c.bot("Hello from the API")
}

func TestHTTPErrorsAndCORS(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) { c.AllowedOrigins = []string{"www.example.com", "127.0.0.1:*"} })
	for _, tt := range []struct {
		method, path string
		want         int
	}{{"GET", "/favicon.ico", 404}, {"GET", "/nope", 404}, {"HEAD", "/widget.js", 405}, {"DELETE", "/healthz", 405}} {
		req, _ := http.NewRequest(tt.method, ts.url+tt.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
		}
	}
	if strings.Contains(ts.log.String(), "level=ERROR") {
		t.Errorf("client mistakes were logged as errors:\n%s", ts.log.String())
	}
	for origin, allowed := range map[string]bool{"https://www.example.com": true, "https://evil.example": false} {
		req, _ := http.NewRequest("OPTIONS", ts.url+"/api/widget/match", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		got := resp.Header.Get("Access-Control-Allow-Origin")
		if allowed && got != origin || !allowed && got != "" {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q", origin, got)
		}
		req, _ = http.NewRequest("POST", ts.url+"/api/widget/match", strings.NewReader(`{"page":"/pricing"}`))
		req.Header.Set("Origin", origin)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Access-Control-Allow-Origin"); allowed && got != origin || !allowed && got != "" {
			t.Errorf("POST from %s: Access-Control-Allow-Origin %q", origin, got)
		}
	}
}

// playbooksIn counts the files of dir that declare a playbook (a top-level
// "playbook:" key); the others are included fragments.
func playbooksIn(t *testing.T, dir string) int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if regexp.MustCompile(`(?m)^playbook:`).Match(b) {
			n++
		}
	}
	if n < 5 {
		t.Fatalf("%s holds %d playbooks, want the examples (5 or more)", dir, n)
	}
	return n
}
