package conversation_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
)

// memVersions is a Versions shared by registries as a store is shared by
// processes.
type memVersions struct {
	mu    sync.Mutex
	files map[string]map[string][]byte
	kept  map[string]int
}

func newMemVersions() *memVersions {
	return &memVersions{files: map[string]map[string][]byte{}, kept: map[string]int{}}
}

func (m *memVersions) Save(_ context.Context, hash string, files map[string][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[hash] = files
	return nil
}

func (m *memVersions) Keep(_ context.Context, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kept[hash]++
	return nil
}

func (m *memVersions) Load(_ context.Context, hash string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f, ok := m.files[hash]
	if !ok {
		return nil, errors.New("no such version")
	}
	out := map[string][]byte{}
	for k, v := range f {
		out[k] = v
	}
	return out, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func greeting(text string) string {
	return "playbook: hello\ncards:\n  hi:\n    say: " + text + "\n    end: done\n"
}

func write(t *testing.T, path, src string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// A distinct modification time, so the change shows in the directory's
	// fingerprint even on a file system with coarse times.
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func sayOf(t *testing.T, p *engine.Program) string {
	t.Helper()
	sess := engine.NewSession(p, "c1", time.Unix(0, 0))
	_, effs := engine.Step(p, sess, engine.Event{Kind: engine.EventStart})
	for _, e := range effs {
		if e.Kind == engine.EffectSay {
			return e.Text
		}
	}
	t.Fatalf("the playbook said nothing: %+v", effs)
	return ""
}

// TestRegistryHotReload: a changed file goes live for new conversations,
// the version sessions started on stays loadable (in this process and, from
// the shared store, in another), and a broken edit keeps the last good
// version serving.
func TestRegistryHotReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.yaml")
	write(t, file, greeting("Hello"), time.Unix(1000, 0))
	versions := newMemVersions()
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	reg := conversation.NewRegistry(dir, versions, quiet(), func() time.Time { return now })
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("first load: %v %v", diags, err)
	}
	v1, ok := reg.Current("hello")
	if !ok || sayOf(t, v1) != "Hello" {
		t.Fatalf("Current(hello) = %v, %v", v1, ok)
	}

	// Nothing changed: nothing is loaded again.
	if diags, err := reg.Reload(ctx, false); err != nil || diags != nil {
		t.Fatalf("reload without a change: %v %v", diags, err)
	}

	write(t, file, greeting("Welcome back"), time.Unix(2000, 0))
	if _, err := reg.Reload(ctx, false); err != nil {
		t.Fatal(err)
	}
	v2, _ := reg.Current("hello")
	if v2.Hash == v1.Hash || sayOf(t, v2) != "Welcome back" {
		t.Fatalf("after the edit the live version says %q (hash %.12s, first %.12s)", sayOf(t, v2), v2.Hash, v1.Hash)
	}
	if old, err := reg.Version(ctx, v1.Hash); err != nil || sayOf(t, old) != "Hello" {
		t.Fatalf("the first version is gone: %v", err)
	}
	list := reg.List()
	if len(list) != 1 || len(list[0].Versions) != 2 || list[0].Versions[0].Version != v2.Hash || !list[0].LoadedAt.Equal(now) {
		t.Fatalf("List() = %+v", list)
	}

	// A broken edit: diagnostics, and the last good version keeps serving.
	write(t, file, "playbook: hello\ncards:\n  hi:\n    say: [unclosed\n", time.Unix(3000, 0))
	diags, err := reg.Reload(ctx, false)
	if err != nil || !diags.HasErrors() {
		t.Fatalf("broken edit: diagnostics %v, err %v", diags, err)
	}
	if p, _ := reg.Current("hello"); p.Hash != v2.Hash {
		t.Fatalf("a broken edit replaced the live version")
	}

	// Another process, which never saw the first version, compiles it from
	// the shared store.
	other := conversation.NewRegistry(t.TempDir(), versions, quiet(), nil)
	if p, err := other.Version(ctx, v1.Hash); err != nil || p.Hash != v1.Hash || sayOf(t, p) != "Hello" {
		t.Fatalf("another process: %v", err)
	}
	if _, err := other.Version(ctx, strings.Repeat("0", 64)); err == nil {
		t.Fatal("an unknown version loaded")
	}

	// Every version a session used since then, and the live ones, are
	// renewed in the store.
	reg.KeepUsed(ctx, now.Add(-time.Second))
	if versions.kept[v1.Hash] == 0 || versions.kept[v2.Hash] == 0 {
		t.Fatalf("KeepUsed renewed %v", versions.kept)
	}

	// A removed file stops taking new conversations.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Reload(ctx, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := reg.Current("hello"); ok {
		t.Fatal("a removed playbook is still live")
	}
}

// TestRegistryInstallRefusesAConflict: installing a second playbook with an
// id the folder already has writes nothing, and the first keeps serving.
func TestRegistryInstallRefusesAConflict(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hello.yaml"), greeting("Hello"), time.Unix(1000, 0))
	reg := conversation.NewRegistry(dir, newMemVersions(), quiet(), nil)
	if _, err := reg.Reload(ctx, true); err != nil {
		t.Fatal(err)
	}
	diags, err := reg.Install(ctx, "copy.yaml", []byte(greeting("Hi again")))
	if !errors.Is(err, conversation.ErrPlaybookConflict) || len(diags) == 0 {
		t.Fatalf("Install of a duplicate id: %v %v", diags, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "copy.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the conflicting file was written: %v", err)
	}
	if _, err := reg.Install(ctx, "other.yaml", []byte(strings.Replace(greeting("Other"), "hello", "other", 1))); err != nil {
		t.Fatal(err)
	}
	if p, ok := reg.Current("other"); !ok || sayOf(t, p) != "Other" {
		t.Fatal("an installed playbook is not live at once")
	}
}

// TestPickTriggers: a named playbook wins, then a page trigger, then the
// default.
func TestPickTriggers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hello.yaml"), greeting("Hello"), time.Unix(1000, 0))
	write(t, filepath.Join(dir, "pricing.yaml"), "playbook: pricing\ntrigger:\n  pages: [\"/pricing*\"]\ncards:\n  hi:\n    say: Prices\n    end: done\n", time.Unix(1000, 0))
	reg := conversation.NewRegistry(dir, newMemVersions(), quiet(), nil)
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", diags, err)
	}
	vis := &engine.Visitor{}
	for _, c := range []struct{ name, page, def, want string }{
		{"hello", "/pricing/team", "", "hello"},
		{"", "/pricing/team", "hello", "pricing"},
		{"", "/about", "hello", "hello"},
		{"", "/about", "", "hello"}, // the first by id
		{"nope", "/pricing", "", ""},
	} {
		p := reg.Pick(c.name, c.page, vis, c.def)
		got := ""
		if p != nil {
			got = p.ID
		}
		if got != c.want {
			t.Errorf("Pick(%q, %q, default %q) = %q, want %q", c.name, c.page, c.def, got, c.want)
		}
	}
}

// A trigger's when that reads the clock holds in serve as it does in
// `playbook test` (both ask the engine's one trigger rule): the registry
// evaluated it without the clock, so now() failed and the trigger never
// matched.
func TestTriggerWhenReadsTheClock(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hello.yaml"), greeting("Hello"), time.Unix(1000, 0))
	write(t, filepath.Join(dir, "late.yaml"), "playbook: late\ntrigger:\n  pages: [\"/pricing*\"]\n  when: now() > date(\"2020-01-01\")\ncards:\n  hi:\n    say: Prices\n    end: done\n", time.Unix(1000, 0))
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	reg := conversation.NewRegistry(dir, newMemVersions(), quiet(), func() time.Time { return now })
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("%v %v", diags, err)
	}
	p := reg.Pick("", "/pricing", &engine.Visitor{}, "hello")
	if p == nil || p.ID != "late" {
		t.Fatalf("Pick on /pricing = %v, want the late playbook (its when holds)", p)
	}
	if p := reg.Pick("", "/about", &engine.Visitor{}, "hello"); p == nil || p.ID != "hello" {
		t.Fatalf("Pick on /about = %v, want the default", p)
	}
}
