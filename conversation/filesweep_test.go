package conversation_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/blobdir"
	"github.com/playbook-dev/playbook/store/embedded"
	"github.com/playbook-dev/playbook/store/s3blob"
)

// TestFilesFollowTheRetention (issue 14): a conversation's attachments
// are deleted by the sweep once the conversation is gone by retention
// (its inbox record expired, Retention after its last activity, its
// session before), and kept while it is not: on the embedded engine,
// with the files in a directory and in S3 (gofakes3). The clock is the
// test's, shared by the service and the engine's expiry.
func TestFilesFollowTheRetention(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) store.Blobs{
		"blobdir": func(t *testing.T) store.Blobs {
			d, err := blobdir.Open(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"s3": func(t *testing.T) store.Blobs {
			backend := s3mem.New()
			if err := backend.CreateBucket("files"); err != nil {
				t.Fatal(err)
			}
			ts := httptest.NewServer(gofakes3.New(backend).Server())
			t.Cleanup(ts.Close)
			b, err := s3blob.Open(s3blob.Options{Endpoint: ts.URL, Bucket: "files", Prefix: "pb/", AccessKey: "key", SecretKey: "secret", Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	} {
		t.Run(name, func(t *testing.T) { filesFollowTheRetention(t, open(t)) })
	}
}

// filesApp is an App on the embedded engine with files, on the test's
// clock (shared by the service and the engine's expiry), Retention 48 h,
// IdleTTL 1 h.
type filesApp struct {
	t       *testing.T
	app     *conversation.App
	files   store.Blobs
	prog    *engine.Program
	mu      sync.Mutex
	now     time.Time
	advance func(time.Duration)
}

func newFilesApp(t *testing.T, files store.Blobs, log *slog.Logger) *filesApp {
	f := &filesApp{t: t, files: files, now: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	clock := func() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
	f.advance = func(d time.Duration) { f.mu.Lock(); defer f.mu.Unlock(); f.now = f.now.Add(d) }
	db, err := embedded.Open(t.TempDir(), embedded.Options{Logger: quiet(), SweepEvery: -1, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "desk.yaml"), []byte(desk), 0o644); err != nil {
		t.Fatal(err)
	}
	f.app, err = conversation.NewApp(embedded.NewEngine(db), conversation.Options{
		Playbooks: dir, Logger: log, Now: clock, Presence: salesOnline{},
		IdleTTL: time.Hour, Retention: 48 * time.Hour, Files: files,
	})
	if err != nil {
		t.Fatal(err)
	}
	var ok bool
	if f.prog, ok = f.app.Registry().Current("desk"); !ok {
		t.Fatal("desk is not loaded")
	}
	return f
}

// start starts a conversation (with its inbox record).
func (f *filesApp) start() string {
	f.t.Helper()
	ctx := context.Background()
	sess, _, err := f.app.Service().Start(ctx, conversation.StartRequest{Program: f.prog, Locale: "en"}, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.app.Inbox().Conversation(ctx, sess.ID); err != nil {
		f.t.Fatalf("the start recorded no inbox record: %v", err)
	}
	return sess.ID
}

// put stores file id of conversation conv, where the service keeps it.
func (f *filesApp) put(conv, id string) string {
	f.t.Helper()
	key := conv + "/" + id
	if err := f.files.Put(context.Background(), store.Blob{Key: key, Name: "cv.pdf", Type: "application/pdf", Size: 4}, strings.NewReader("%PDF")); err != nil {
		f.t.Fatal(err)
	}
	return key
}

func (f *filesApp) exists(key string) bool {
	f.t.Helper()
	r, _, err := f.files.Open(context.Background(), key)
	if errors.Is(err, store.ErrNotFound) {
		return false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	r.Close()
	return true
}

func filesFollowTheRetention(t *testing.T, files store.Blobs) {
	ctx := context.Background()
	f := newFilesApp(t, files, quiet())
	app, start, put, exists, advance, prog := f.app, f.start, f.put, f.exists, f.advance, f.prog
	old := start()
	oldFiles := []string{put(old, "f1"), put(old, "f2")}
	// A chat with a person: the person's feed links its transcript, which
	// is kept (KeepTranscript) past the retention, and with it its files,
	// which the transcript's entries link.
	kept := start()
	keptFile := put(kept, "f1")
	if err := app.Sessions().KeepTranscript(ctx, kept); err != nil {
		t.Fatal(err)
	}
	advance(47 * time.Hour)
	recent := start() // its session expires (IdleTTL), its record stays
	recentFile := put(recent, "f1")
	advance(2 * time.Hour) // old: 49 h, past Retention; recent: 2 h
	live := start()        // a session and a record
	liveFile := put(live, "f1")
	// A file of a conversation whose start has not reached the inbox yet
	// (the recovery sweep records it later): its session keeps it.
	pending := &engine.Session{ID: conversation.NewID(), Playbook: prog.ID, Version: prog.Hash, Locale: "en", Vars: map[string]any{}}
	if _, err := app.Sessions().Create(ctx, pending, nil); err != nil {
		t.Fatal(err)
	}
	pendingFile := put(pending.ID, "f1")

	if _, err := app.Inbox().Conversation(ctx, old); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("the old conversation's record: %v, want it expired", err)
	}
	if alive, err := app.Sessions().Alive(ctx, []string{old, recent, live}); err != nil || alive[old] || alive[recent] || !alive[live] {
		t.Fatalf("sessions alive: %v, %v; want live's only", alive, err)
	}
	n, err := app.Service().PurgeFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range oldFiles {
		if exists(k) {
			t.Errorf("%s: the file of a conversation gone by retention is still there after the sweep", k)
		}
	}
	if _, err := app.Inbox().Conversation(ctx, kept); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("the kept transcript's conversation record: %v, want it expired", err)
	}
	for _, k := range []string{recentFile, liveFile, pendingFile, keptFile} {
		if !exists(k) {
			t.Errorf("%s: the file of a conversation still kept was deleted", k)
		}
	}
	if n != len(oldFiles) {
		t.Errorf("the sweep says it deleted %d files, want %d", n, len(oldFiles))
	}
	if n, err := app.Service().PurgeFiles(ctx); err != nil || n != 0 {
		t.Errorf("a second sweep deleted %d, %v; want 0", n, err)
	}
}

// TestRunSweepsFilesWhenItStarts: App.Run runs the file sweep when it
// starts (then hourly): the file of a conversation gone by retention is
// deleted without anyone calling PurgeFiles.
func TestRunSweepsFilesWhenItStarts(t *testing.T) {
	d, err := blobdir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	logged := &signalWriter{want: "deleted the files of expired conversations", done: make(chan struct{})}
	f := newFilesApp(t, d, slog.New(slog.NewTextHandler(logged, nil)))
	old := f.put(f.start(), "f1")
	f.advance(49 * time.Hour)
	live := f.put(f.start(), "f1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.app.Run(ctx) }()
	select {
	case <-logged.done:
	case <-time.After(time.Minute): // a guard against a hang only
		t.Fatal("Run deleted no file within a minute")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.exists(old) || !f.exists(live) {
		t.Fatalf("after Run's sweep: the expired conversation's file is there: %v; the live one's: %v", f.exists(old), f.exists(live))
	}
}

// signalWriter closes done once a write contains want.
type signalWriter struct {
	want string
	once sync.Once
	done chan struct{}
}

func (w *signalWriter) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.want) {
		w.once.Do(func() { close(w.done) })
	}
	return len(p), nil
}
