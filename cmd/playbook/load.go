package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/playtest"
)

func isTestFile(path string) bool {
	return strings.HasSuffix(path, ".test.yaml") || strings.HasSuffix(path, ".test.yml")
}

func isYAML(path string) bool {
	return strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")
}

// missingPaths splits paths into those that exist and diagnostics for those
// that do not.
func missingPaths(paths []string) (ok []string, diags source.Diagnostics) {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			d := diags.Errorf(source.Range{Filename: p}, "cannot read %s: %v", p, pathErr(err))
			if os.IsNotExist(err) {
				d.Summary = fmt.Sprintf("%s does not exist", p)
			}
			continue
		}
		ok = append(ok, p)
	}
	return ok, diags
}

func pathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// sameFile reports whether two spellings of a path name the same file.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// loadOne loads the playbook in file for chat and graph. It loads the
// whole folder, so that includes find their playbooks, and reports only the
// errors that concern this playbook.
func loadOne(stderr io.Writer, file string) (*engine.Program, error) {
	st, err := os.Stat(file)
	switch {
	case err != nil && os.IsNotExist(err):
		return nil, failf("%s does not exist", file)
	case err != nil:
		return nil, failf("cannot read %s: %v", file, pathErr(err))
	case st.IsDir():
		return nil, usageError("%s is a folder: give one playbook file", file)
	case isTestFile(file):
		return nil, usageError("%s is a test file: give the playbook it tests", file)
	case !isYAML(file):
		return nil, usageError("%s is not a playbook: playbooks are .yaml or .yml files", file)
	}
	set, diags := dsl.LoadPaths(filepath.Dir(file))
	p := playtest.ProgramByFile(set, file)
	var mine source.Diagnostics
	for _, d := range diags.Errs() {
		if p == nil || sameFile(d.Subject.Filename, file) {
			mine = append(mine, d)
		}
	}
	var files source.Files
	if set != nil {
		files = set.Files
	}
	source.Render(stderr, files, mine)
	if p == nil {
		if len(mine) == 0 {
			return nil, failf("%s has no playbook in it", file)
		}
		return nil, failf("%s has %s: fix them first (playbook validate %s)", file, plural(len(mine.Errs()), "error"), file)
	}
	return p, nil
}

// plural writes "1 error", "2 errors".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
