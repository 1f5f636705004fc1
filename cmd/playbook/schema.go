package main

import (
	"context"
	"encoding/json"
	"flag"

	"github.com/playbook-dev/playbook/dsl"
)

var schemaCommand = &command{
	name:    "schema",
	summary: "print a JSON Schema of the playbook language, for editors",
	usage:   "schema",
	help: `Prints a JSON Schema (draft-07) of playbook files: every key the checker
accepts, with a one-line description, and the shape of its value. It is
built from the same tables the checker uses, so it cannot fall behind.

Save it and point your editor's YAML support at it for completion, hover
and checks as you type; with yaml-language-server (VS Code's YAML
extension, Neovim, Helix) put this first line in a playbook:

  # yaml-language-server: $schema=./playbook.schema.json

  playbook schema > playbook.schema.json

The schema checks shapes; playbook validate still checks the rest (card
names, expressions, types, translations).
`,
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) != 0 {
				return usageError("schema takes no arguments")
			}
			enc := json.NewEncoder(std.out)
			enc.SetIndent("", "  ")
			return enc.Encode(dsl.Schema())
		}
	},
}
