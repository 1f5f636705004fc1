package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

var validateCommand = &command{
	name:    "validate",
	summary: "check playbooks for mistakes before they go live",
	usage:   "validate [--json] FILE|FOLDER...",
	help: `Checks every playbook in the files and folders given (folders are searched,
subfolders included) and lists each problem with the file, line and column,
the line itself, and a likely fix:

  playbooks/sales.yaml:12:11: error: there is no card "emial"
     12 |     goto: emial
        |           ^~~~~
        = did you mean "email"?

Errors must be fixed before a playbook can go live. Warnings (a card no
path reaches, a var never used) are worth a look but do not stop it.

Exit status: 0 when there are no errors (warnings are fine), 1 when there
are errors, 2 when the command line is wrong.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		asJSON := fs.Bool("json", false, "print the result as JSON on standard output, for scripts and CI")
		return func(ctx context.Context, std *stdio, args []string) error {
			return runValidate(std, args, *asJSON)
		}
	},
}

// validateJSON is what `validate --json` prints.
type validateJSON struct {
	OK          bool                 `json:"ok"`
	Playbooks   []playbookJSON       `json:"playbooks"`
	Diagnostics []*source.Diagnostic `json:"diagnostics"`
}

type playbookJSON struct {
	ID      string `json:"id"`
	File    string `json:"file"`
	Version string `json:"version"`
}

func runValidate(std *stdio, args []string, asJSON bool) error {
	if len(args) == 0 {
		return usageError("give the playbook files or folders to check")
	}
	paths, diags := missingPaths(args)
	set := &dsl.Set{}
	if len(paths) > 0 {
		s, ds := dsl.LoadPaths(paths...)
		if s != nil {
			set = s
		}
		diags = append(diags, ds...)
	}
	if len(set.Programs) == 0 && !diags.HasErrors() {
		diags.Errorf(source.Range{Filename: strings.Join(args, " ")}, "no playbooks found").Detail =
			"playbooks are .yaml or .yml files (not .test.yaml)"
	}
	diags.Sort()
	nerr := len(diags.Errs())
	nwarn := len(diags) - nerr

	if asJSON {
		out := validateJSON{OK: nerr == 0, Playbooks: []playbookJSON{}, Diagnostics: diags}
		if out.Diagnostics == nil {
			out.Diagnostics = []*source.Diagnostic{}
		}
		for _, p := range set.Programs {
			out.Playbooks = append(out.Playbooks, playbookJSON{ID: p.ID, File: fileOf(set, p), Version: p.Hash})
		}
		enc := json.NewEncoder(std.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return failf("writing JSON: %v", err)
		}
		if nerr > 0 {
			return errFailed
		}
		return nil
	}

	source.Render(std.err, set.Files, diags)
	if nerr > 0 {
		files := map[string]bool{}
		for _, d := range diags {
			files[d.Subject.Filename] = true
		}
		summary := plural(nerr, "error")
		if nwarn > 0 {
			summary += ", " + plural(nwarn, "warning")
		}
		fmt.Fprintf(std.err, "%s in %s\n", summary, plural(len(files), "file"))
		return errFailed
	}
	summary := plural(len(set.Programs), "playbook") + " OK"
	if nwarn > 0 {
		summary += ", " + plural(nwarn, "warning")
	}
	fmt.Fprintln(std.out, summary)
	return nil
}

// fileOf returns the file p was loaded from.
func fileOf(set *dsl.Set, p *engine.Program) string {
	if len(p.Files) > 0 {
		return p.Files[0]
	}
	for name, q := range set.ByFile {
		if q == p {
			return name
		}
	}
	return ""
}
