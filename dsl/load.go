package dsl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Load compiles one playbook source. name is the file name used in
// diagnostics. The program is nil when any diagnostic is an error; warnings
// come back either way, sorted by position.
func Load(name string, src []byte, opts ...Option) (*engine.Program, source.Diagnostics) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var diags source.Diagnostics
	f := &fileCtx{name: name, src: src, lines: newLineIndex(src), diags: &diags}
	fa := parseFile(f)
	if fa == nil || diags.HasErrors() && len(fa.cards) == 0 {
		return nil, finish(diags)
	}
	c := &compiler{diags: &diags, opts: o, main: fa}
	c.addFile(fa)
	p := c.program()
	diags = finish(diags)
	if diags.HasErrors() {
		return nil, diags
	}
	return p, diags
}

// finish drops repeated diagnostics (a sub-flow included twice reports the
// same problem twice) and sorts the rest by position.
func finish(ds source.Diagnostics) source.Diagnostics {
	type key struct {
		r   source.Range
		msg string
	}
	seen := map[key]bool{}
	out := ds[:0]
	for _, d := range ds {
		k := key{d.Subject, d.Summary}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	out.Sort()
	return out
}

// LoadPaths loads every playbook in the given files and directories
// (directories are walked; *.yaml and *.yml files that are not *.test.yaml
// are playbooks; *.test.yaml files are listed in Set.Tests). Includes
// resolve among the playbooks found. A file with errors is left out of the
// set; its diagnostics are returned with everyone else's.
func LoadPaths(paths ...string) (*Set, source.Diagnostics) {
	return LoadPathsWith(nil, paths...)
}

// LoadPathsWith is LoadPaths on the files as they would be after writing
// the overlay: each of its files replaces the one at that path, or joins
// the playbooks if there is none. Nothing is written. It checks a change
// against the whole folder (ids unique, includes) before making it.
func LoadPathsWith(overlay source.Files, paths ...string) (*Set, source.Diagnostics) {
	set := &Set{ByID: map[string]*engine.Program{}, ByFile: map[string]*engine.Program{}, Files: source.Files{}}
	var diags source.Diagnostics
	var books, hoursFiles []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			diags.Errorf(source.Range{Filename: p}, "cannot read %s: %v", p, errText(err))
			continue
		}
		if !info.IsDir() {
			if dir := filepath.Join(filepath.Dir(p), HoursFile); !slices.Contains(hoursFiles, dir) {
				if _, err := os.Stat(dir); err == nil {
					hoursFiles = append(hoursFiles, dir)
				}
			}
			if isTestFile(p) {
				set.Tests = append(set.Tests, p)
			} else {
				books = append(books, p)
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			switch {
			case isTestFile(path):
				set.Tests = append(set.Tests, path)
			case isHoursFile(path):
				hoursFiles = append(hoursFiles, path)
			case strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml"):
				books = append(books, path)
			}
			return nil
		})
		if err != nil {
			diags.Errorf(source.Range{Filename: p}, "cannot read %s: %v", p, errText(err))
		}
	}
	// Opening hours: every hours.yaml found; a team declared twice is an
	// error.
	var hours engine.Hours
	declared := map[string]string{}
	for _, hf := range hoursFiles {
		src, ok := overlay[hf]
		var err error
		if !ok {
			src, err = os.ReadFile(hf)
		}
		if err != nil {
			diags.Errorf(source.Range{Filename: hf}, "cannot read %s: %v", hf, errText(err))
			continue
		}
		set.Files[hf] = src
		h, ds := LoadHours(hf, src)
		diags = append(diags, ds...)
		for team, th := range h {
			if other, dup := declared[team]; dup {
				diags.Errorf(source.At(hf, 1, 1), "the hours of team %q are also declared in %s", team, other)
				continue
			}
			declared[team] = hf
			if hours == nil {
				hours = engine.Hours{}
			}
			hours[team] = th
		}
	}
	set.Hours = hours
	for name := range overlay {
		if isHoursFile(name) {
			continue
		}
		if !slices.Contains(books, name) && !isTestFile(name) {
			books = append(books, name)
		}
	}
	if len(overlay) > 0 {
		sort.Strings(books) // the order a walk of one folder gives
	}
	// Index every playbook by id first, so includes resolve in any order.
	type entry struct {
		name string
		src  []byte
	}
	byID := map[string]entry{}
	var ids []string
	for _, b := range books {
		src, ok := overlay[b]
		var err error
		if !ok {
			src, err = os.ReadFile(b)
		}
		if err != nil {
			diags.Errorf(source.Range{Filename: b}, "cannot read %s: %v", b, errText(err))
			continue
		}
		set.Files[b] = src
		if id := peekID(src); id != "" {
			if _, dup := byID[id]; dup {
				diags.Errorf(source.At(b, 1, 1), "playbook id %q is also used by %s; ids must be unique", id, byID[id].name)
				continue
			}
			byID[id] = entry{b, src}
			ids = append(ids, id)
		}
	}
	for _, t := range set.Tests {
		if src, err := os.ReadFile(t); err == nil {
			set.Files[t] = src
		}
	}
	resolve := func(id string) (string, []byte, bool) {
		e, ok := byID[id]
		return e.name, e.src, ok
	}
	for _, b := range books {
		src, ok := set.Files[b]
		if !ok {
			continue
		}
		p, ds := Load(b, src, WithResolver(resolve), withIDs(func() []string { return ids }))
		diags = append(diags, ds...)
		if p == nil {
			continue
		}
		if _, dup := set.ByID[p.ID]; dup {
			continue
		}
		withHours(p, hours, hoursFiles, set.Files)
		set.Programs = append(set.Programs, p)
		set.ByID[p.ID] = p
		set.ByFile[b] = p
	}
	return set, finish(diags)
}

func withIDs(f func() []string) Option { return func(o *options) { o.ids = f } }

func isTestFile(p string) bool {
	return strings.HasSuffix(p, ".test.yaml") || strings.HasSuffix(p, ".test.yml")
}

// peekID reads a file's `playbook:` id without compiling it.
func peekID(src []byte) string {
	var doc yaml.Node
	if yaml.Unmarshal(src, &doc) != nil || len(doc.Content) == 0 {
		return ""
	}
	if n, ok := findKey(doc.Content[0], "playbook"); ok && n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func errText(err error) string {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// LoadVersion compiles the playbook in file main from a stored set of files
// (main and the files it includes), as kept by content hash in the store, so
// a conversation can finish on the exact version it started on.
func LoadVersion(main string, files source.Files) (*engine.Program, source.Diagnostics) {
	byID := map[string]string{}
	for name, src := range files {
		if id := peekID(src); id != "" {
			byID[id] = name
		}
	}
	resolve := func(id string) (string, []byte, bool) {
		name, ok := byID[id]
		return name, files[name], ok
	}
	src, ok := files[main]
	if !ok {
		var ds source.Diagnostics
		ds.Errorf(source.Range{Filename: main}, "version has no file %s", main)
		return nil, ds
	}
	p, diags := Load(main, src, WithResolver(resolve))
	if p == nil {
		return p, diags
	}
	// the hours file stored with the version
	var hoursFiles []string
	for name := range files {
		if isHoursFile(name) {
			hoursFiles = append(hoursFiles, name)
		}
	}
	sort.Strings(hoursFiles)
	hours := engine.Hours{}
	for _, hf := range hoursFiles {
		h, ds := LoadHours(hf, files[hf])
		diags = append(diags, ds...)
		for team, th := range h {
			hours[team] = th
		}
	}
	if len(hours) == 0 {
		hours = nil
	}
	withHours(p, hours, hoursFiles, files)
	return p, diags
}

// withHours gives p the opening hours of the hours files (names, sources in
// files). They count in p's version: the files join p.Files and p.Hash
// covers them, so a change of hours is a new version, and a version
// compiled again from its stored files has the same hours.
func withHours(p *engine.Program, hours engine.Hours, hoursFiles []string, files source.Files) {
	if hours == nil {
		return
	}
	p.Hours = hours
	h := sha256.New()
	h.Write([]byte(p.Hash))
	for _, hf := range hoursFiles {
		fmt.Fprintf(h, "\x00%s\x00%d\x00", filepath.Base(hf), len(files[hf]))
		h.Write(files[hf])
		p.Files = append(p.Files, hf)
	}
	p.Hash = hex.EncodeToString(h.Sum(nil))
}
