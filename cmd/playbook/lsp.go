package main

import (
	"context"
	"flag"

	"github.com/playbook-dev/playbook/lsp"
)

var lspCommand = &command{
	name:    "lsp",
	summary: "run the language server for editors (stdio)",
	usage:   "lsp",
	help: `Runs a Language Server Protocol server on standard input and output, for
editors: problems underlined as you type (the same checks as validate),
go to definition for goto and the other card names, vars and include,
completion of card names, vars, built-ins, input types and keys, and hover
help for built-ins and keys.

Point your editor's LSP client at "playbook lsp" for YAML files under your
playbooks folder; see docs/language.md, "Editor support".
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) != 0 {
				return usageError("lsp takes no arguments: it talks to your editor on stdin and stdout")
			}
			return lsp.Serve(std.in, std.out, std.err)
		}
	},
}
