package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// wsPeer is a websocket (a visitor's or an agent's) with the entries it
// received, by id, and the count of ids received twice.
type wsPeer struct {
	t      *testing.T
	conn   *client.Conn
	frames chan map[string]any
	ids    map[string]int
	order  []map[string]any
}

// dialPeer opens path (/ws/visitor or /ws/agent) of the server at base.
func dialPeer(t *testing.T, base, path string, hdr http.Header) *wsPeer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := client.DialVisitor
	if path == "/ws/agent" {
		dial = client.DialAgent
	}
	conn, err := dial(ctx, base, client.Options{Header: hdr})
	if err != nil {
		t.Fatal(err)
	}
	p := &wsPeer{t: t, conn: conn, frames: make(chan map[string]any, 256), ids: map[string]int{}}
	go func() {
		defer close(p.frames)
		for {
			r, err := conn.NextRaw(context.Background())
			if err != nil {
				return
			}
			var f map[string]any
			_ = json.Unmarshal(r.Raw, &f)
			p.frames <- f
		}
	}()
	t.Cleanup(conn.CloseNow)
	return p
}

func (p *wsPeer) send(f map[string]any) {
	p.t.Helper()
	b, _ := json.Marshal(f)
	if err := p.conn.SendRaw(context.Background(), b); err != nil {
		p.t.Fatal(err)
	}
}

// until reads frames until ok says so; entries are recorded on the way.
func (p *wsPeer) until(what string, ok func(f map[string]any) bool) map[string]any {
	p.t.Helper()
	timeout := time.After(60 * time.Second) // only a guard against a hang
	for {
		select {
		case f, open := <-p.frames:
			if !open {
				p.t.Fatalf("connection closed waiting for %s", what)
			}
			p.record(f)
			if ok(f) {
				return f
			}
		case <-timeout:
			p.t.Fatalf("no %s within 15s", what)
		}
	}
}

func (p *wsPeer) entry(kind, from, text string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		e, _ := f["entry"].(map[string]any)
		return f["type"] == "entry" && e != nil && e["kind"] == kind && (from == "" || e["from"] == from) && (text == "" || e["text"] == text)
	}
}

// settle records what arrives within d.
func (p *wsPeer) settle(d time.Duration) {
	end := time.After(d)
	for {
		select {
		case f, open := <-p.frames:
			if !open {
				return
			}
			p.record(f)
		case <-end:
			return
		}
	}
}

// record records an entry frame.
func (p *wsPeer) record(f map[string]any) {
	if e, _ := f["entry"].(map[string]any); f["type"] == "entry" && e != nil {
		id, _ := e["id"].(string)
		if p.ids[id]++; p.ids[id] == 1 {
			p.order = append(p.order, e)
		}
	}
}

// idLess orders Redis stream ids (ms-seq).
func idLess(a, b string) bool {
	parse := func(s string) (int64, int64) {
		ms, seq, _ := strings.Cut(s, "-")
		x, _ := strconv.ParseInt(ms, 10, 64)
		y, _ := strconv.ParseInt(seq, 10, 64)
		return x, y
	}
	am, as := parse(a)
	bm, bs := parse(b)
	return am < bm || am == bm && as < bs
}

func (p *wsPeer) last() string {
	if len(p.order) == 0 {
		return ""
	}
	return p.order[len(p.order)-1]["id"].(string)
}

func (p *wsPeer) twice() int {
	n := 0
	for _, c := range p.ids {
		n += c - 1
	}
	return n
}

// button sends the button with label from the bot's last message.
func (p *wsPeer) button(id, label string) {
	p.t.Helper()
	for i := len(p.order) - 1; i >= 0; i-- {
		bs, _ := p.order[i]["buttons"].([]any)
		for _, b := range bs {
			b := b.(map[string]any)
			if b["label"] == label {
				p.send(map[string]any{"type": "button", "id": id, "value": b["value"], "label": label})
				return
			}
		}
	}
	p.t.Fatalf("no button %q", label)
}

// TestKilledServerVisitorsAndAgentsMoveOn runs two `playbook serve`
// processes on one Redis. Ten resilient visitors talk over both, and a
// visitor on A is in a live chat with an agent whose inbox is on A. A is
// killed (SIGKILL). The agent's browser moves to B (still signed in), the
// visitor resumes on B, and they go on talking: every message arrives
// once, nothing is missing, and the store holds exactly what each side
// saw; the ten conversations and their leads are exact too.
func TestKilledServerVisitorsAndAgentsMoveOn(t *testing.T) {
	redistest.SkipShort(t, "starts serve processes")
	exe, err := exec.LookPath("playbook")
	if err != nil {
		t.Fatal(err)
	}
	rds := redistest.New(t)
	dir := t.TempDir()
	books := filepath.Join(dir, "books")
	if err := os.MkdirAll(books, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(books, "qualify.yaml"), playbooks.BenchQualify, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	args := []string{"--playbooks", books, "--redis", rds.URL, "--prefix", rds.Prefix, "--simulate-presence", "bench", "--connects-per-minute", "-1"}
	a, err := bench.StartServer(ctx, exe, args, filepath.Join(dir, "a.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(5 * time.Second) })
	b, err := bench.StartServer(ctx, exe, args, filepath.Join(dir, "b.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Stop(5 * time.Second) })

	// The agent signs in on A and opens the inbox's live feed there.
	inbox := handoff.NewStore(redisstore.NewInbox(rds.Client, rds.Prefix), handoff.Options{Prefix: rds.Prefix})
	if _, err := inbox.AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam", Teams: []string{"sales"}, Role: handoff.RoleAgent, Password: "correct horse"}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: time.Minute} // bcrypt on a loaded machine
	csrf := ""
	api := func(base, method, path string, body any) []byte {
		t.Helper()
		var r io.Reader
		if body != nil {
			bs, _ := json.Marshal(body)
			r = bytes.NewReader(bs)
		}
		req, _ := http.NewRequest(method, base+path, r)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := web.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s on %s: %d %s", method, path, base, resp.StatusCode, out)
		}
		return out
	}
	var login struct{ CSRF string }
	_ = json.Unmarshal(api(a.URL, "POST", "/api/auth/login", map[string]any{"email": "sam@example.com", "password": "correct horse"}), &login)
	csrf = login.CSRF
	api(a.URL, "PUT", "/api/me/presence", map[string]any{"status": "online"}) // new-chat notices are for agents online (25a2692)
	cookies := func(s *bench.Server) http.Header {
		h := http.Header{}
		req, _ := http.NewRequest("GET", s.URL, nil)
		for _, c := range jar.Cookies(req.URL) {
			h.Add("Cookie", c.Name+"="+c.Value)
		}
		h.Set("Origin", s.URL)
		return h
	}
	agentA := dialPeer(t, a.URL, "/ws/agent", cookies(a))
	agentA.until("hello", func(f map[string]any) bool { return f["type"] == "hello" })

	// Ten resilient visitors talk over A and B meanwhile.
	var wg sync.WaitGroup
	convs := make([]bench.ResilientConversation, 10)
	errs := make([]error, 10)
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i := range convs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			convs[i], errs[i] = bench.Resilient(rctx, []string{a.URL, b.URL}, i, bench.ScriptFor(i), 300*time.Millisecond)
		}()
	}

	// A visitor on A reaches the handoff (bench-100: agents online).
	v := dialPeer(t, a.URL, "/ws/visitor", nil)
	v.send(map[string]any{"type": "start", "playbook": "qualify", "page": "/bench", "visitor": map[string]any{"id": bench.VisitorID(100)}})
	w := v.until("welcome", func(f map[string]any) bool { return f["type"] == "welcome" })
	token, conv := w["token"].(string), w["conversation"].(string)
	v.until("the greeting", v.entry("message", "bot", "Hi! What brings you here?"))
	v.button("v1", "Talk to sales")
	v.until("the email question", v.entry("message", "bot", "What's your work email?"))
	v.send(map[string]any{"type": "message", "id": "v2", "text": "ana@acme.io"})
	v.until("the size question", v.entry("message", "bot", "How many employees?"))
	v.button("v3", "201+")
	v.until("the budget question", v.entry("message", "bot", "Monthly budget in USD?"))
	v.send(map[string]any{"type": "message", "id": "v4", "text": "1500"})
	v.until("the handoff", v.entry("handoff", "system", ""))
	agentA.until("the new chat", func(f map[string]any) bool { return f["type"] == "notify" && f["kind"] == "new_chat" })

	// The agent takes it on A, follows it, and writes.
	api(a.URL, "POST", "/api/conversations/"+conv+"/assign", map[string]any{})
	v.until("the agent joined", v.entry("joined", "system", ""))
	agentA.send(map[string]any{"type": "follow", "conversation": conv})
	api(a.URL, "POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "Hi Ana, Sam here.", "client_id": "a1"})
	v.until("the agent's first message", v.entry("message", "agent", "Hi Ana, Sam here."))
	agentA.until("its echo in the inbox", agentA.entry("message", "agent", "Hi Ana, Sam here."))

	// A dies.
	a.Kill()

	// The agent's browser moves to B, signed in still, and follows the
	// chat from the last entry it has.
	agentB := dialPeer(t, b.URL, "/ws/agent", cookies(b))
	agentB.until("hello on B", func(f map[string]any) bool { return f["type"] == "hello" })
	agentB.send(map[string]any{"type": "follow", "conversation": conv, "after": agentA.last()})
	// The visitor's widget resumes on B from the last entry it has.
	v2 := dialPeer(t, b.URL, "/ws/visitor", nil)
	v2.ids, v2.order = v.ids, v.order // one widget: what it had before the drop
	v2.send(map[string]any{"type": "resume", "token": token, "after": v.last()})
	v2.until("welcome on B", func(f map[string]any) bool { return f["type"] == "welcome" })
	v2.send(map[string]any{"type": "message", "id": "v5", "text": "Still there?"})
	v2.until("the ack", func(f map[string]any) bool { return f["type"] == "ack" && f["id"] == "v5" })
	agentB.until("the visitor's question on B", agentB.entry("message", "visitor", "Still there?"))
	api(b.URL, "POST", "/api/conversations/"+conv+"/messages", map[string]any{"text": "Yes! Moving on.", "client_id": "a2"})
	v2.until("the agent's second message", v2.entry("message", "agent", "Yes! Moving on."))
	agentB.until("its echo", agentB.entry("message", "agent", "Yes! Moving on."))
	// Anything doubled would be here by now.
	v2.settle(300 * time.Millisecond)
	agentB.settle(300 * time.Millisecond)

	// Exact: the visitor got every stored entry it may see once, in order;
	// the agent on B got exactly the entries after its last one on A.
	st := redisstore.New(rds.Client, redisstore.Options{Prefix: rds.Prefix})
	stored, err := st.Transcript(ctx, conv, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var visible, afterA []string
	cut := agentA.last()
	for _, e := range stored {
		if e.Kind != "note" && e.Kind != "record" {
			visible = append(visible, e.ID)
		}
		if idLess(cut, e.ID) {
			afterA = append(afterA, e.ID)
		}
	}
	var got, gotB []string
	for _, e := range v2.order {
		got = append(got, e["id"].(string))
	}
	for _, e := range agentB.order {
		gotB = append(gotB, e["id"].(string))
	}
	if strings.Join(got, " ") != strings.Join(visible, " ") || v2.twice() != 0 {
		t.Errorf("the visitor received %v (%d twice); the store holds %v", got, v2.twice(), visible)
	}
	if strings.Join(gotB, " ") != strings.Join(afterA, " ") || agentB.twice() != 0 {
		t.Errorf("the agent on B received %v (%d twice); after its last entry on A the store holds %v", gotB, agentB.twice(), afterA)
	}

	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("resilient visitor %d: %v", i, err)
		}
	}
	if t.Failed() {
		return
	}
	if err := bench.VerifyAll(ctx, rds.Client, rds.Prefix, convs, 60*time.Second); err != nil {
		t.Fatal(err)
	}
}
