package dsl

import (
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Load compiles one playbook source. name is the file name used in
// diagnostics. The program is nil when any diagnostic is an error; warnings
// come back either way, sorted by position.
func Load(name string, src []byte, opts ...Option) (*engine.Program, source.Diagnostics) {
	panic("TODO")
}

// LoadPaths loads every playbook in the given files and directories
// (directories are walked; *.yaml and *.yml files that are not *.test.yaml
// are playbooks; *.test.yaml files are listed in Set.Tests). Includes
// resolve among the playbooks found. A file with errors is left out of the
// set; its diagnostics are returned with everyone else's.
func LoadPaths(paths ...string) (*Set, source.Diagnostics) {
	panic("TODO")
}
