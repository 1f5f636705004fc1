package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// stdio is where a command reads and writes.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand. setup declares the command's flags on fs and
// returns the function that runs it with the positional arguments.
type command struct {
	name    string
	summary string // one line for the command list
	usage   string // the synopsis after "playbook "
	help    string // what it does, for `playbook help NAME` and -h
	setup   func(fs *flag.FlagSet) func(ctx context.Context, io *stdio, args []string) error
	// config, when set, lets the flags also come from the environment and
	// a config file (see configSpec).
	config *configSpec
}

// newFlagSet declares the flags of c (--config and the secrets' -file
// flags too when c reads a config) and returns the function that runs it.
func newFlagSet(c *command) (*flag.FlagSet, func(ctx context.Context, io *stdio, args []string) error) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	runCmd := c.setup(fs)
	if c.config != nil {
		c.config.addFlags(fs)
	}
	return fs, runCmd
}

// serveOption reports whether name is an option of playbook serve, whose
// config file the admin commands share.
func serveOption(name string) bool {
	fs, _ := newFlagSet(serveCommand)
	return fs.Lookup(name) != nil
}

// commands lists the subcommands in the order help shows them.
var commands = []*command{
	validateCommand,
	testCommand,
	chatCommand,
	graphCommand,
	schemaCommand,
	diffCommand,
	lspCommand,
	serveCommand,
	agentsCommand,
	statsCommand,
	webhooksCommand,
	migrateCommand,
	healthcheckCommand,
	doctorCommand,
	benchCommand,
}

func findCommand(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

const mainHelp = `playbook builds, checks and tries chatbot playbooks.

A playbook is a YAML file that says what the bot says and asks, where each
answer leads, and when a person from your team takes over.

Usage:
  playbook <command> [options] [files or folders]

Commands:
%s
Examples:
  playbook validate playbooks/                 check every playbook in a folder
  playbook test playbooks/                     run the conversation tests
  playbook chat playbooks/website-sales.yaml   try a playbook as a visitor would
  playbook graph playbooks/website-sales.yaml  draw it (paste into any Mermaid viewer)

Run "playbook help <command>" for the options of a command.
`

func printMainHelp(w io.Writer) {
	var b strings.Builder
	width := 10
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-*s %s\n", width, c.name, c.summary)
	}
	fmt.Fprintf(&b, "  %-*s %s\n", width, "help", "show help for a command")
	fmt.Fprintf(w, mainHelp, b.String())
}

func printCommandHelp(w io.Writer, c *command) {
	fs, _ := newFlagSet(c)
	fmt.Fprintf(w, "Usage: playbook %s\n\n%s", c.usage, c.help)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprintf(w, "\nOptions:\n")
			first = false
		}
		name, usage := flag.UnquoteUsage(f)
		dash := "--"
		if len(f.Name) == 1 {
			dash = "-"
		}
		head := "  " + dash + f.Name
		if name != "" {
			head += " " + name
		}
		fmt.Fprintf(w, "%s\n      %s", head, usage)
		if d := f.DefValue; d != "" && d != "false" && d != "0" {
			fmt.Fprintf(w, " (default %s)", d)
		}
		fmt.Fprintln(w)
	})
	if c.config != nil {
		fmt.Fprint(w, c.config.helpText(fs))
	}
}

// run is the whole program but for the process: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	std := &stdio{in: stdin, out: stdout, err: stderr}
	if len(args) == 0 {
		printMainHelp(stderr)
		return 2
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(rest) == 0 {
			printMainHelp(stdout)
			return 0
		}
		c := findCommand(rest[0])
		if c == nil {
			fmt.Fprintf(stderr, "playbook help: there is no command %q\n\n", rest[0])
			printMainHelp(stderr)
			return 2
		}
		printCommandHelp(stdout, c)
		return 0
	}
	c := findCommand(name)
	if c == nil {
		fmt.Fprintf(stderr, "playbook: there is no command %q\n\n", name)
		printMainHelp(stderr)
		return 2
	}
	fs, runCmd := newFlagSet(c)
	pos, err := parseFlags(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(stdout, c)
		return 0
	}
	if err == nil && c.config != nil {
		err = c.config.apply(fs, os.Getenv, serveOption)
	}
	if err == nil {
		err = runCmd(ctx, std, pos)
	}
	return exitCode(stderr, c, err)
}

// exitCode reports err and returns the code it carries.
func exitCode(stderr io.Writer, c *command, err error) int {
	if err == nil {
		return 0
	}
	code := 1
	var ec exitCoder
	if errors.As(err, &ec) {
		code = ec.ExitCode()
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(stderr, "playbook %s: %s\n", c.name, msg)
	}
	if code == 2 {
		fmt.Fprintf(stderr, "usage: playbook %s\nrun \"playbook help %s\" for more\n", c.usage, c.name)
	}
	return code
}

// parseFlags parses flags that may come before, between or after the
// positional arguments ("playbook test playbooks/ -v"); everything after
// "--" is positional.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// exitCoder is an error that says which exit code the program ends with.
type exitCoder interface {
	ExitCode() int
}

// exitError is an error with an exit code. An empty message means the
// problem has been reported already.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
func (e *exitError) ExitCode() int { return e.code }

// errFailed ends with exit code 1 after the command reported why.
var errFailed = &exitError{code: 1}

// usageError ends with exit code 2: the command line was wrong.
func usageError(format string, args ...any) error {
	return &exitError{code: 2, msg: fmt.Sprintf(format, args...)}
}

// failf ends with exit code 1 and a message.
func failf(format string, args ...any) error {
	return &exitError{code: 1, msg: fmt.Sprintf(format, args...)}
}

// isTerminal reports whether f is an interactive terminal.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	if !ok {
		return false
	}
	st, err := file.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
