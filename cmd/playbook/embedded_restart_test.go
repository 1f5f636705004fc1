package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/playbooks"
	"github.com/playbook-dev/playbook/protocol"
)

// visitor is a client connection and the transcript it has seen.
type visitor struct {
	t      *testing.T
	c      *client.Conn
	seen   []protocol.Entry
	frames []protocol.Frame // every frame read, in order
}

// until returns the first frame ok accepts, among those read already (an
// ack may come before or after its turn's entries) or read from now on,
// keeping the entries it sees.
func (v *visitor) until(ctx context.Context, what string, ok func(protocol.Frame) bool) protocol.Frame {
	v.t.Helper()
	for _, f := range v.frames {
		if ok(f) {
			return f
		}
	}
	f, err := v.c.Until(ctx, func(f protocol.Frame) bool {
		v.frames = append(v.frames, f)
		if e, isEntry := f.(*protocol.EntryFrame); isEntry {
			v.seen = append(v.seen, e.Entry)
		}
		return ok(f)
	})
	if err != nil {
		v.t.Fatalf("waiting for %s: %v (seen %+v)", what, err, v.seen)
	}
	return f
}

func botSays(text string) func(protocol.Frame) bool {
	return func(f protocol.Frame) bool {
		e, ok := f.(*protocol.EntryFrame)
		return ok && e.Entry.From == "bot" && e.Entry.Text == text
	}
}

func ackOf(id string) func(protocol.Frame) bool {
	return func(f protocol.Frame) bool { a, ok := f.(*protocol.Ack); return ok && a.ID == id }
}

// resume opens a connection to url resuming token from the start, and
// reads the transcript up to the bot saying last.
func resume(ctx context.Context, t *testing.T, url, token, last string) *visitor {
	t.Helper()
	c, err := client.DialVisitor(ctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if err := c.Resume(ctx, token, ""); err != nil {
		t.Fatal(err)
	}
	v := &visitor{t: t, c: c}
	v.until(ctx, "the transcript up to "+last, botSays(last))
	return v
}

// sameEntries fails unless got and want are the same entries (id, sender,
// text), in order.
func sameEntries(t *testing.T, when string, got, want []protocol.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d entries, want %d:\n got %+v\nwant %+v", when, len(got), len(want), got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].From != want[i].From || got[i].Text != want[i].Text {
			t.Fatalf("%s: entry %d is %+v, want %+v", when, i, got[i], want[i])
		}
	}
}

// TestEmbeddedConversationSurvivesRestartAndKill serves the reference
// playbook from `playbook serve --store embedded` (no Redis anywhere). A
// visitor answers a question; the server is stopped and started again on
// the same --data: the visitor's token (signed with the secret kept in
// --data) resumes the same transcript, and the conversation goes on. The
// server is then killed (SIGKILL) right after it acknowledged an answer;
// a third process finds that answer, the bot's reply to it, and the
// client message id (a resend is answered as a duplicate).
func TestEmbeddedConversationSurvivesRestartAndKill(t *testing.T) {
	redistest.SkipShort(t, "starts serve processes")
	exe, err := exec.LookPath("playbook")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("PLAYBOOK_REDIS_URL", "") // the default of --redis
	t.Setenv("PLAYBOOK_SECRET", "")
	dir := t.TempDir()
	books := filepath.Join(dir, "books")
	if err := os.MkdirAll(books, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(books, "qualify.yaml"), playbooks.BenchQualify, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--playbooks", books, "--data", filepath.Join(dir, "data"), "--connects-per-minute", "-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := func(name string) *bench.Server {
		t.Helper()
		s, err := bench.StartServer(ctx, exe, args, filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Stop(5 * time.Second) })
		return s
	}

	a := start("a")
	c, err := client.DialVisitor(ctx, a.URL, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Start(ctx, protocol.Start{Playbook: "qualify", Locale: "en"}); err != nil {
		t.Fatal(err)
	}
	v := &visitor{t: t, c: c}
	v.until(ctx, "the greeting", botSays("Hi! What brings you here?"))
	if err := c.Click(ctx, "m1", "Talk to sales", "Talk to sales"); err != nil {
		t.Fatal(err)
	}
	v.until(ctx, "the ack of m1", ackOf("m1"))
	v.until(ctx, "the email question", botSays("What's your work email?"))
	token := c.Token()
	if token == "" {
		t.Fatal("no token from the welcome")
	}
	if err := a.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}

	// A restart on the same data: the same transcript, and the
	// conversation goes on.
	b := start("b")
	vb := resume(ctx, t, b.URL, token, "What's your work email?")
	sameEntries(t, "after a restart", vb.seen, v.seen)
	if err := vb.c.Say(ctx, "m2", "ana@acme.io"); err != nil {
		t.Fatal(err)
	}
	ack := vb.until(ctx, "the ack of m2", ackOf("m2")).(*protocol.Ack)
	vb.until(ctx, "the size question", botSays("How many employees?"))
	if ack.Entry == "" || ack.Duplicate {
		t.Fatalf("ack of m2 = %+v", ack)
	}
	b.Kill()

	// After kill -9: everything acknowledged is there.
	cc := start("c")
	vc := resume(ctx, t, cc.URL, token, "How many employees?")
	sameEntries(t, "after kill -9", vc.seen, vb.seen)
	found := false
	for _, e := range vc.seen {
		found = found || e.ID == ack.Entry && e.Text == "ana@acme.io"
	}
	if !found {
		t.Fatalf("the acknowledged answer %s is not in the transcript after kill -9: %+v", ack.Entry, vc.seen)
	}
	if err := vc.c.Say(ctx, "m2", "ana@acme.io"); err != nil {
		t.Fatal(err)
	}
	if again := vc.until(ctx, "the ack of the resent m2", ackOf("m2")).(*protocol.Ack); !again.Duplicate || again.Entry != ack.Entry {
		t.Fatalf("resent m2 after kill -9 = %+v, want a duplicate of entry %s", again, ack.Entry)
	}

	// One process per data directory: a second one is refused, naming it.
	out, err := exec.CommandContext(ctx, exe, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...).CombinedOutput()
	if err == nil || !strings.Contains(string(out), filepath.Join(dir, "data")) || !strings.Contains(string(out), "in use by another process") {
		t.Fatalf("a second serve on the same --data: %v\n%s", err, out)
	}
}
