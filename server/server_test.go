package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/store/blobdir"
	redisstore "github.com/playbook-dev/playbook/store/redis"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/server"
)

// testServer is one server process (in this test process) on a shared Redis.
type testServer struct {
	srv  *server.Server
	url  string
	log  *syncBuffer
	stop func()
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// copyPlaybooks copies the example playbooks into a temp dir the test may
// edit.
func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func copyPlaybooks(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.Walk("../playbooks", func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(path, ".test.yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// blobDir is an attachment store in a temp dir.
func blobDir(t *testing.T) *blobdir.Dir {
	t.Helper()
	d, err := blobdir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func startServer(t *testing.T, rds *redistest.Server, dir string, mod ...func(*servertest.Config)) *testServer {
	t.Helper()
	ts := startServerEarly(t, rds, dir, mod...)
	servertest.AwaitListening(t, ts.srv)
	return ts
}

// startServerEarly is startServer returning at once, before the server
// listens for live updates (a process just started).
func startServerEarly(t *testing.T, rds *redistest.Server, dir string, mod ...func(*servertest.Config)) *testServer {
	t.Helper()
	buf := &syncBuffer{}
	cfg := servertest.Config{
		Engine: redisstore.NewEngine(rds.Client, rds.Prefix),
		Options: conversation.Options{
			Playbooks:   dir,
			Prefix:      rds.Prefix,
			Logger:      slog.New(slog.NewTextHandler(buf, nil)),
			ReloadEvery: 50 * time.Millisecond,
			// Sign-ins stay fast on a loaded machine; the cost is not under test.
			PasswordCost: bcrypt.MinCost,
			Files:        blobDir(t),
		},
	}
	for _, m := range mod {
		m(&cfg)
	}
	srv, err := servertest.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.Run(ctx); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	var once sync.Once
	stop := func() {
		once.Do(func() {
			hs.CloseClientConnections()
			hs.Close()
			cancel()
			<-done
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("server log:\n%s", buf.String())
		}
	})
	return &testServer{srv: srv, url: hs.URL, log: buf, stop: stop}
}

// client is a visitor's websocket (or an agent's feed) with the frames it
// received, as maps, in arrival order.
type client struct {
	t      *testing.T
	conn   *pbclient.Conn
	frames chan map[string]any
	queue  []map[string]any
	ctx    context.Context
}

func dial(t *testing.T, ts *testServer) *client {
	t.Helper()
	// The connection's whole life: only a guard against a hang.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	conn, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return pump(t, ctx, conn, nil)
}

// pump makes a test client of conn: its frames go to c.frames, as maps,
// until it closes; closed, when not nil, then gets why.
func pump(t *testing.T, ctx context.Context, conn *pbclient.Conn, closed chan<- error) *client {
	c := &client{t: t, conn: conn, frames: make(chan map[string]any, 1000), ctx: ctx}
	go func() {
		defer close(c.frames)
		for {
			r, err := conn.NextRaw(ctx)
			if err != nil {
				if errors.Is(err, pbclient.ErrBadFrame) {
					t.Errorf("server sent a frame that is not of the protocol: %v", err)
				}
				if closed != nil {
					closed <- err
				}
				return
			}
			var f map[string]any
			if err := json.Unmarshal(r.Raw, &f); err != nil {
				t.Errorf("server sent non-JSON %q", r.Raw)
				return
			}
			if err := sameAsTyped(r, f); err != nil {
				t.Error(err)
			}
			c.frames <- f
		}
	}()
	t.Cleanup(conn.CloseNow)
	return c
}

// sameAsTyped checks a frame the server sent against package protocol: of
// a type it knows, and the same JSON value once decoded into that type and
// encoded again (no field lost, renamed or added).
func sameAsTyped(r pbclient.Received, sent map[string]any) error {
	if _, ok := r.Frame.(*protocol.Unknown); ok {
		return fmt.Errorf("a frame of a type package protocol does not know: %s", r.Raw)
	}
	b, err := protocol.Encode(r.Frame)
	if err != nil {
		return err
	}
	var typed map[string]any
	if err := json.Unmarshal(b, &typed); err != nil {
		return err
	}
	if !reflect.DeepEqual(sent, typed) {
		return fmt.Errorf("the typed %T differs from the wire:\nsent  %s\ntyped %s", r.Frame, r.Raw, b)
	}
	return nil
}

func (c *client) send(f map[string]any) {
	c.t.Helper()
	b, _ := json.Marshal(f)
	if err := c.conn.SendRaw(c.ctx, b); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the first frame of type typ, in arrival order. Frames of
// other types that arrive first stay queued for later calls, except status
// and typing frames, which are dropped. It fails after 10 s.
func (c *client) next(typ string) map[string]any {
	c.t.Helper()
	for i, f := range c.queue {
		if f["type"] == typ {
			c.queue = append(c.queue[:i:i], c.queue[i+1:]...)
			return f
		}
	}
	timeout := time.After(30 * time.Second) // only a guard against a hang
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s (queued: %v)", typ, c.queue)
			}
			if f["type"] == typ {
				return f
			}
			if f["type"] != "status" && f["type"] != "typing" {
				c.queue = append(c.queue, f)
			}
		case <-timeout:
			c.t.Fatalf("no %s frame within 30s (queued: %v)", typ, c.queue)
		}
	}
}

// bot reads entries until a bot message with text want (entries of the
// visitor and system events in between are skipped). It returns the entry.
func (c *client) bot(want string) map[string]any {
	c.t.Helper()
	for {
		e := c.next("entry")["entry"].(map[string]any)
		if e["from"] == "bot" && e["kind"] == "message" {
			if e["text"] != want {
				c.t.Fatalf("bot said %q, want %q", e["text"], want)
			}
			return e
		}
	}
}

// through returns every frame (queued ones first, status and typing
// frames included) up to and including the first of type typ. It fails
// after 30 s (a guard against a hang). With a ping sent first,
// through("pong") waits for everything the server sent before it.
func (c *client) through(typ string) []map[string]any {
	c.t.Helper()
	var out []map[string]any
	for i, f := range c.queue {
		if f["type"] == typ {
			out = append(out, c.queue[:i+1]...)
			c.queue = append(c.queue[:0:0], c.queue[i+1:]...)
			return out
		}
	}
	out, c.queue = c.queue, nil
	timeout := time.After(30 * time.Second) // only a guard against a hang
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s (got: %v)", typ, out)
			}
			out = append(out, f)
			if f["type"] == typ {
				return out
			}
		case <-timeout:
			c.t.Fatalf("no %s frame within 30s (got: %v)", typ, out)
		}
	}
}

// settle sends a ping and returns every frame up to its pong: all the
// server sent this connection for the frames it read before the ping (a
// connection's frames are handled in order). Entries published by other
// connections or processes may still be on their way: wait for those with
// entriesUntil.
func (c *client) settle() []map[string]any {
	c.t.Helper()
	c.send(map[string]any{"type": "ping"})
	return c.through("pong")
}

// entriesUntil reads entries (queued frames first; other frames stay
// queued) until done says the entries read so far are enough, and returns
// them. It fails after 30 s (a guard against a hang).
func (c *client) entriesUntil(what string, done func([]map[string]any) bool) []map[string]any {
	c.t.Helper()
	var got []map[string]any
	var rest []map[string]any
	take := func(f map[string]any) {
		if f["type"] == "entry" {
			got = append(got, f["entry"].(map[string]any))
		} else {
			rest = append(rest, f)
		}
	}
	queued := c.queue
	c.queue = nil
	for len(queued) > 0 && !done(got) {
		take(queued[0])
		queued = queued[1:]
	}
	timeout := time.After(30 * time.Second) // only a guard against a hang
	for !done(got) {
		select {
		case f, ok := <-c.frames:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s (got: %v)", what, got)
			}
			take(f)
		case <-timeout:
			c.t.Fatalf("not %s within 30s (got: %v)", what, got)
		}
	}
	c.queue = append(append(rest, queued...), c.queue...)
	return got
}

// drain returns every frame that arrives within d.
func (c *client) drain(d time.Duration) []map[string]any {
	var out []map[string]any
	timeout := time.After(d)
	for {
		select {
		case f, ok := <-c.frames:
			if !ok {
				return out
			}
			out = append(out, f)
		case <-timeout:
			return out
		}
	}
}

func (c *client) say(id, text string) map[string]any {
	c.t.Helper()
	c.send(map[string]any{"type": "message", "id": id, "text": text})
	return c.next("ack")
}

func (c *client) start(playbook string) (token, conv string) {
	c.t.Helper()
	c.send(map[string]any{"type": "start", "playbook": playbook, "page": "/pricing", "locale": "en-US"})
	w := c.next("welcome")
	return w["token"].(string), w["conversation"].(string)
}

func TestSalesConversationToLead(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/sales")
	c := dial(t, ts)
	_, conv := c.start("website-sales")
	greet := c.bot("Hi there! What brings you here?")
	if b, _ := greet["buttons"].([]any); len(b) != 2 || greet["input"] != "choice" {
		t.Fatalf("greeting buttons/input = %v / %v", greet["buttons"], greet["input"])
	}
	c.send(map[string]any{"type": "button", "id": "m1", "value": "Talk to sales", "label": "Talk to sales"})
	if ack := c.next("ack"); ack["id"] != "m1" || ack["duplicate"] != false {
		t.Fatalf("ack = %v", ack)
	}
	steps := []struct{ say, bot string }{
		{"", "What's your work email?"},
		{"nope", "Hmm, that doesn't look like an email."},
		{"", "What's your work email?"}, // asked again
		{"ana@globex.com", "How many people work at your company?"},
		{"51-200", "What's your monthly budget in USD?"},
		{"3000", "When would you like to get started? (a date like 2026-03-01)"},
		{"2030-01-15", "Our team is away right now. We'll email ana@globex.com within one business day."},
	}
	for i, s := range steps {
		if s.say != "" {
			c.say(fmt.Sprintf("m%d", i+2), s.say)
		}
		c.bot(s.bot)
	}
	sess, _, err := ts.srv.App().Sessions().Load(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	if sess.Status != "ended" || sess.Outcome != "qualified" {
		t.Fatalf("session ended %q with outcome %q, want ended/qualified", sess.Status, sess.Outcome)
	}
	entries, _ := ts.srv.App().Sessions().Transcript(context.Background(), conv, "", 0)
	kinds := map[string]int{}
	for _, e := range entries {
		kinds[e.Kind+"/"+e.From]++
		if e.Kind == "record" {
			kinds["record:"+e.Data["kind"].(string)]++
		}
	}
	if kinds["record:lead"] != 1 || kinds["record:deal"] != 1 || kinds["record:task"] != 1 || kinds["end/system"] != 1 || kinds["message/visitor"] != 6 {
		t.Fatalf("transcript kinds = %v", kinds)
	}
}
