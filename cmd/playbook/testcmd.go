package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"strings"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/playtest"
)

var testCommand = &command{
	name:    "test",
	summary: "run the conversation tests beside your playbooks",
	usage:   "test [-run PATTERN] [-v] [--min-coverage N] [--generate] [FILE|FOLDER...]",
	help: `Replays the conversations written in NAME.test.yaml files against the
playbooks beside them, and checks what the bot says, the buttons it shows,
the outcome, the vars and the records it would create. Nothing is sent
anywhere: agents, opening hours, the clock and web calls are all pretend,
set by each test.

With no files or folders it tests the current folder. Each test prints PASS
or FAIL; a failure shows the line of the test that did not happen and what
the bot did instead. Then comes coverage: how many cards, edges (every
choice, intent, branch arm, fallback, retry exhaustion, skip, handoff and
offline path, call success and failure) and locales of each playbook the
tests went through, and which they never reached. --min-coverage N fails
the run when a playbook's coverage is below N percent. --generate prints a
draft test for each edge no test takes, found on the flow graph, to paste
into the test file and finish: answers are chosen to satisfy the branch
conditions that compare a var a question saves (size == "51-200", budget >=
1000); what that does not settle (a score a set computes, open_hours(),
agents_online(), visitor fields, a call's answer) is found by running
variants of the draft. Conditions it cannot arrange are left as TODO
comments, with the reason. A draft marked "checked" takes its edge as
written, and its expect line says where its run ended (check it).

Exit status: 0 when every test passes, 1 when a test fails or a file has
errors, 2 when the command line is wrong.
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		runPat := fs.String("run", "", "only run the tests whose name matches `PATTERN` (a regular expression, such as \"lead|nurture\")")
		verbose := fs.Bool("v", false, "show every conversation as it ran, not just the failures")
		minCov := fs.Float64("min-coverage", 0, "fail when a playbook's coverage (cards, edges and locales) is below `N` percent")
		generate := fs.Bool("generate", false, "print draft tests for the edges no test takes")
		return func(ctx context.Context, std *stdio, args []string) error {
			if *minCov < 0 || *minCov > 100 {
				return usageError("--min-coverage: %g is not a percentage from 0 to 100", *minCov)
			}
			return runTest(std, args, *runPat, *verbose, *minCov, *generate)
		}
	},
}

func runTest(std *stdio, args []string, runPat string, verbose bool, minCov float64, generate bool) error {
	opts := playtest.Options{}
	if runPat != "" {
		re, err := regexp.Compile(runPat)
		if err != nil {
			return usageError("-run: %q is not a valid pattern: %v", runPat, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		opts.Match = re.MatchString
	}
	if len(args) == 0 {
		args = []string{"."}
	}
	paths, diags := missingPaths(args)

	// Load the folders and playbooks given, and the playbook beside each
	// test file given; run the tests found, those given, and those beside
	// each playbook given.
	var load, tests []string
	addTest := func(t string) {
		for _, have := range tests {
			if sameFile(have, t) {
				return
			}
		}
		tests = append(tests, t)
	}
	for _, p := range paths {
		st, _ := os.Stat(p)
		switch {
		case st != nil && st.IsDir():
			load = append(load, p)
		case isTestFile(p):
			addTest(p)
			if pb := beside(p, ".test.yaml", ".test.yml"); pb != "" {
				load = append(load, pb)
			}
		default:
			load = append(load, p)
		}
	}
	set := &dsl.Set{}
	if len(load) > 0 {
		s, ds := dsl.LoadPaths(load...)
		if s != nil {
			set = s
		}
		diags = append(diags, ds.Errs()...) // warnings are for validate
	}
	var fromSet []string
	fromSet = append(fromSet, set.Tests...)
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && !st.IsDir() && !isTestFile(p) {
			if t := beside(p, ".yaml", ".yml"); t != "" {
				fromSet = append(fromSet, t)
			}
		}
	}
	for _, t := range fromSet {
		addTest(t)
	}

	rep := playtest.RunFiles(set, tests, opts)
	files := source.Files{}
	maps.Copy(files, set.Files)
	maps.Copy(files, rep.Sources)
	diags = append(diags, rep.Diagnostics...)
	diags.Sort()
	source.Render(std.err, files, diags)

	for _, fr := range rep.Files {
		for _, r := range fr.Results {
			printResult(std.out, files, r, verbose)
		}
	}
	passed, failed := rep.Counts()
	if len(tests) == 0 {
		fmt.Fprintln(std.out, "no test files found (the tests of NAME.yaml go in NAME.test.yaml beside it)")
	} else if passed+failed == 0 && runPat != "" {
		fmt.Fprintf(std.out, "no test matches -run %q\n", runPat)
	}

	low := 0
	if len(set.Programs) > 0 && passed+failed > 0 {
		fmt.Fprintln(std.out)
		fmt.Fprintln(std.out, "coverage:")
		width := 0
		for _, p := range set.Programs {
			width = max(width, len(p.ID))
		}
		for _, p := range set.Programs {
			cov := rep.Coverage[p.ID]
			if cov == nil {
				cov = playtest.NewCoverage(p)
			}
			line := fmt.Sprintf("  %-*s  %5.1f%%  %d/%d cards, %d/%d edges, %d/%d locales", width, p.ID, cov.Total(),
				cov.Covered(), len(cov.Cards), cov.EdgesTaken(), len(cov.Edges), cov.LocalesSpoken(), len(cov.Locales))
			if cov.Tests == 0 {
				line += "  no tests"
			}
			if minCov > 0 && cov.Total() < minCov {
				line += fmt.Sprintf("  below --min-coverage %g%%", minCov)
				low++
			}
			fmt.Fprintln(std.out, line)
			if cov.Tests == 0 {
				continue
			}
			if un := cov.Uncovered(); len(un) > 0 {
				fmt.Fprintf(std.out, "  %-*s    cards not reached: %s\n", width, "", strings.Join(un, ", "))
			}
			for _, e := range cov.UncoveredEdges() {
				fmt.Fprintf(std.out, "  %-*s    edge not taken: %s\n", width, "", playtest.DescribeEdge(p, e))
			}
			if un := cov.UnspokenLocales(); len(un) > 0 {
				fmt.Fprintf(std.out, "  %-*s    locales no test runs in: %s\n", width, "", strings.Join(un, ", "))
			}
		}
	}

	if generate {
		for _, p := range set.Programs {
			cov := rep.Coverage[p.ID]
			if cov == nil {
				cov = playtest.NewCoverage(p)
			}
			un := cov.UncoveredEdges()
			if len(un) == 0 {
				continue
			}
			file := p.ID + ".test.yaml"
			if len(p.Files) > 0 {
				file = strings.TrimSuffix(strings.TrimSuffix(p.Files[0], ".yaml"), ".yml") + ".test.yaml"
			}
			fmt.Fprintf(std.out, "\n# draft tests for %s: add them under `tests:` in %s\n", p.ID, file)
			fmt.Fprint(std.out, playtest.FormatProposals(playtest.Generate(p, un)))
		}
	}
	if passed+failed > 0 {
		fmt.Fprintln(std.out)
		fmt.Fprintf(std.out, "%d passed, %d failed\n", passed, failed)
	}
	if nerr := len(diags.Errs()); nerr > 0 {
		fmt.Fprintf(std.err, "%s in playbooks or test files\n", plural(nerr, "error"))
	}
	if low > 0 {
		fmt.Fprintf(std.err, "%s below --min-coverage %g%%\n", plural(low, "playbook"), minCov)
	}
	if failed > 0 || diags.HasErrors() || low > 0 {
		return errFailed
	}
	return nil
}

// beside returns the file next to path with suffix trim replaced by .test.yaml
// (or the playbook for a test file): beside("a.yaml", ".yaml", ".yml") is
// "a.test.yaml" when it exists.
func beside(path string, suffixes ...string) string {
	for _, suf := range suffixes {
		base, ok := strings.CutSuffix(path, suf)
		if !ok {
			continue
		}
		var candidates []string
		if isTestFile(path) {
			candidates = []string{base + ".yaml", base + ".yml"}
		} else {
			candidates = []string{base + ".test.yaml", base + ".test.yml"}
		}
		for _, c := range candidates {
			if st, err := os.Stat(c); err == nil && !st.IsDir() {
				return c
			}
		}
	}
	return ""
}

func printResult(w io.Writer, files source.Files, r *playtest.Result, verbose bool) {
	if r.Passed() {
		fmt.Fprintf(w, "PASS %s\n", r.Test.Name)
	} else {
		fmt.Fprintf(w, "FAIL %s\n", r.Test.Name)
	}
	if verbose {
		for _, line := range r.Transcript {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	f := r.Failure
	if f == nil {
		return
	}
	fmt.Fprintf(w, "    %s: %s\n", f.Pos, f.Summary)
	if snip := source.Snippet(files[f.Pos.Filename], f.Pos); snip != "" {
		for _, line := range strings.Split(strings.TrimRight(snip, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
	if f.Want != "" || f.Got != "" {
		fmt.Fprintf(w, "    - want: %s\n", f.Want)
		fmt.Fprintf(w, "    + got:  %s\n", f.Got)
	}
}
