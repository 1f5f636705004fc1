package conversation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Versions stores the source of every playbook version sessions may still
// run on, shared by every process, so that a process that never loaded a
// Version (another one did, or it was replaced before this one started)
// compiles it from there. Keep renews a version so it does not expire
// while sessions use it.
type Versions interface {
	Save(ctx context.Context, hash string, files map[string][]byte) error
	Keep(ctx context.Context, hash string) error
	Load(ctx context.Context, hash string) (map[string][]byte, error)
}

// Registry holds the live playbooks and every version sessions may still
// run on. It reloads the playbooks directory when a file changes; a file
// that no longer compiles is reported and its previous version keeps
// serving. It is safe for concurrent use.
type Registry struct {
	dir      string
	versions Versions
	log      *slog.Logger
	now      func() time.Time

	installMu sync.Mutex // one install at a time: check and write together

	mu      sync.RWMutex
	live    map[string]*liveBook // by playbook id
	byHash  map[string]*engine.Program
	used    map[string]time.Time // hash -> last time a session used it
	stamp   string               // fingerprint of the directory at the last load
	lastErr source.Diagnostics
}

// liveBook is the version of a playbook new conversations get.
type liveBook struct {
	prog     *engine.Program
	file     string
	loadedAt time.Time
	history  []VersionInfo // newest first
}

// VersionInfo is one version of a playbook in the admin API's list.
type VersionInfo struct {
	Version  string    `json:"version"`
	LoadedAt time.Time `json:"loaded_at"`
}

// NewRegistry returns an empty registry of the playbooks in dir; Reload
// loads them. now is the clock (nil: time.Now); log receives the reports
// of each load (nil: slog.Default()).
func NewRegistry(dir string, versions Versions, log *slog.Logger, now func() time.Time) *Registry {
	if log == nil {
		log = slog.Default()
	}
	if now == nil {
		now = time.Now
	}
	return &Registry{dir: dir, versions: versions, log: log, now: now, live: map[string]*liveBook{}, byHash: map[string]*engine.Program{}, used: map[string]time.Time{}}
}

// fingerprint is the names, sizes and times of the playbook files, cheap to
// compute every second.
func (r *Registry) fingerprint() string {
	var b strings.Builder
	_ = filepath.WalkDir(r.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if !strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		fmt.Fprintf(&b, "%s %d %d\n", path, info.Size(), info.ModTime().UnixNano())
		return nil
	})
	return b.String()
}

// Reload loads the directory if anything changed since the last load. It
// returns the diagnostics of this load (nil when nothing changed).
func (r *Registry) Reload(ctx context.Context, force bool) (source.Diagnostics, error) {
	stamp := r.fingerprint()
	r.mu.RLock()
	same := stamp == r.stamp
	r.mu.RUnlock()
	if same && !force {
		return nil, nil
	}
	set, diags := dsl.LoadPaths(r.dir)
	if len(diags) > 0 {
		var b bytes.Buffer
		source.Render(&b, set.Files, diags)
		if diags.HasErrors() {
			r.log.Error("playbooks: some files have errors; their previous versions keep serving", "diagnostics", "\n"+b.String())
		} else {
			r.log.Warn("playbooks: warnings", "diagnostics", "\n"+b.String())
		}
	}
	now := r.now()
	type saved struct {
		hash  string
		files map[string][]byte
	}
	var toSave []saved
	r.mu.Lock()
	for _, p := range set.Programs {
		file := p.Files[0]
		lb := r.live[p.ID]
		if lb != nil && lb.prog.Hash == p.Hash {
			continue
		}
		files := map[string][]byte{mainKey: []byte(file)}
		for _, f := range p.Files {
			files[f] = set.Files[f]
		}
		toSave = append(toSave, saved{p.Hash, files})
		nb := &liveBook{prog: p, file: file, loadedAt: now}
		if lb != nil {
			nb.history = lb.history
		}
		nb.history = slices.Insert(nb.history, 0, VersionInfo{Version: p.Hash, LoadedAt: now})
		if len(nb.history) > 20 {
			nb.history = nb.history[:20]
		}
		r.live[p.ID] = nb
		r.byHash[p.Hash] = p
		r.log.Info("playbook loaded", "playbook", p.ID, "version", p.Hash[:12], "file", file, "cards", len(p.Cards))
	}
	// A playbook whose file is gone stops taking new conversations; its
	// versions stay loadable for the sessions that run on them.
	for id, lb := range r.live {
		if _, err := os.Stat(lb.file); errors.Is(err, fs.ErrNotExist) {
			delete(r.live, id)
			r.log.Info("playbook removed", "playbook", id, "file", lb.file)
		}
	}
	r.stamp = stamp
	r.lastErr = diags
	r.mu.Unlock()
	for _, s := range toSave {
		if err := r.versions.Save(ctx, s.hash, s.files); err != nil {
			return diags, fmt.Errorf("saving playbook version %s: %w", s.hash[:12], err)
		}
	}
	return diags, nil
}

// mainKey is the field of a stored version that names its main file.
const mainKey = "\x00main"

// Current returns the live version of a playbook.
func (r *Registry) Current(id string) (*engine.Program, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	lb, ok := r.live[id]
	if !ok {
		return nil, false
	}
	return lb.prog, true
}

// Version returns the program with content hash hash, compiling it from the
// store when this process has not seen it (another process loaded it, or it
// was replaced before this process started).
func (r *Registry) Version(ctx context.Context, hash string) (*engine.Program, error) {
	r.mu.RLock()
	p, ok := r.byHash[hash]
	r.mu.RUnlock()
	if ok {
		r.touch(hash)
		return p, nil
	}
	files, err := r.versions.Load(ctx, hash)
	if err != nil {
		return nil, fmt.Errorf("playbook version %.12s: %w", hash, err)
	}
	main := string(files[mainKey])
	delete(files, mainKey)
	p, diags := dsl.LoadVersion(main, source.Files(files))
	if p == nil {
		return nil, fmt.Errorf("playbook version %.12s does not compile: %v", hash, diags)
	}
	if p.Hash != hash {
		return nil, fmt.Errorf("playbook version %.12s compiled to %.12s", hash, p.Hash)
	}
	r.mu.Lock()
	r.byHash[hash] = p
	r.mu.Unlock()
	r.touch(hash)
	return p, nil
}

func (r *Registry) touch(hash string) {
	r.mu.Lock()
	r.used[hash] = r.now()
	r.mu.Unlock()
}

// KeepUsed renews in the store every version a session used since the last
// call, so versions in use never expire.
func (r *Registry) KeepUsed(ctx context.Context, since time.Time) {
	r.mu.RLock()
	var hashes []string
	for h, t := range r.used {
		if t.After(since) {
			hashes = append(hashes, h)
		}
	}
	for _, lb := range r.live {
		hashes = append(hashes, lb.prog.Hash)
	}
	r.mu.RUnlock()
	for _, h := range hashes {
		if err := r.versions.Keep(ctx, h); err != nil {
			r.log.Warn("renewing playbook version", "version", h[:12], "err", err)
		}
	}
}

// List describes the live playbooks for the admin API.
func (r *Registry) List() []PlaybookInfo {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]PlaybookInfo, 0, len(r.live))
	for _, lb := range r.live {
		out = append(out, PlaybookInfo{ID: lb.prog.ID, Title: lb.prog.Title, Version: lb.prog.Hash, File: lb.file, LoadedAt: lb.loadedAt, Versions: lb.history})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// PlaybookInfo describes a live playbook for the admin API.
type PlaybookInfo struct {
	ID       string        `json:"id"`
	Title    string        `json:"title,omitempty"`
	Version  string        `json:"version"`
	File     string        `json:"file"`
	LoadedAt time.Time     `json:"loaded_at"`
	Versions []VersionInfo `json:"versions"`
}

// All returns the live programs, for trigger matching.
func (r *Registry) All() []*engine.Program {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]*engine.Program, 0, len(r.live))
	for _, lb := range r.live {
		out = append(out, lb.prog)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Resolver finds playbooks for includes among the live ones' files.
func (r *Registry) Resolver() dsl.Resolver {
	return func(id string) (string, []byte, bool) {
		r.mu.RLock()
		lb, ok := r.live[id]
		r.mu.RUnlock()
		if !ok {
			return "", nil, false
		}
		src, err := os.ReadFile(lb.file)
		if err != nil {
			return "", nil, false
		}
		return lb.file, src, true
	}
}

// ErrPlaybookConflict: writing the playbook would break the folder (an id
// used twice, an include that no longer resolves); nothing was written.
var ErrPlaybookConflict = errors.New("the playbook conflicts with the others in the folder")

// CheckInstall validates the folder as it would be with src written as
// name, without writing: it returns the errors the write would bring, in
// this file or in any other (errors the folder already had are not its
// doing), with file names relative to the folder.
func (r *Registry) CheckInstall(name string, src []byte) source.Diagnostics {
	path := filepath.Join(r.dir, filepath.Base(name))
	_, before := dsl.LoadPaths(r.dir)
	_, after := dsl.LoadPathsWith(source.Files{path: src}, r.dir)
	key := func(d *source.Diagnostic) string {
		return fmt.Sprintf("%s:%d:%d:%s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, d.Summary)
	}
	had := map[string]bool{}
	for _, d := range before {
		had[key(d)] = true
	}
	var out source.Diagnostics
	for _, d := range after {
		if d.Severity != source.Error || had[key(d)] {
			continue
		}
		c := *d
		if rel, err := filepath.Rel(r.dir, c.Subject.Filename); err == nil {
			c.Subject.Filename = rel
		}
		c.Summary = strings.ReplaceAll(c.Summary, r.dir+string(filepath.Separator), "")
		out = append(out, &c)
	}
	return out
}

// Install writes a validated playbook into the directory and loads it, so
// it goes live here at once and in other processes at their next check.
// It first checks the folder as it would be (CheckInstall): when the write
// would break it, it returns those diagnostics and ErrPlaybookConflict and
// writes nothing, so the current versions keep serving.
func (r *Registry) Install(ctx context.Context, name string, src []byte) (source.Diagnostics, error) {
	r.installMu.Lock()
	defer r.installMu.Unlock()
	if diags := r.CheckInstall(name, src); len(diags) > 0 {
		return diags, ErrPlaybookConflict
	}
	path := filepath.Join(r.dir, filepath.Base(name))
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, src, 0o644); err != nil {
		return nil, fmt.Errorf("writing playbook: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("writing playbook: %w", err)
	}
	_, err := r.Reload(ctx, true)
	return nil, err
}

// Watch reloads the directory every `every` until ctx is done, and every
// ten minutes renews in the store the versions sessions used (KeepUsed).
func (r *Registry) Watch(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	lastKeep := r.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if _, err := r.Reload(ctx, false); err != nil {
			r.log.Error("reloading playbooks", "err", err)
		}
		if now := r.now(); now.Sub(lastKeep) > 10*time.Minute {
			r.KeepUsed(ctx, lastKeep)
			lastKeep = now
		}
	}
}
