package dsl

import (
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/engine"
)

// Resolver finds the playbook an `include` names by its id. It returns the
// file name and source, or ok false when there is none.
type Resolver func(id string) (name string, src []byte, ok bool)

// Option configures Load.
type Option func(*options)

type options struct {
	resolve Resolver
	ids     func() []string // every known playbook id, for suggestions
}

// WithResolver sets how `include` finds other playbooks. Without it an
// include is an error.
func WithResolver(r Resolver) Option { return func(o *options) { o.resolve = r } }

// Set is the result of loading several files: every playbook that compiled,
// by id and by file, and the sources for rendering diagnostics.
type Set struct {
	Programs []*engine.Program // in file order
	ByID     map[string]*engine.Program
	ByFile   map[string]*engine.Program
	Files    source.Files // every file read, playbooks and tests
	Tests    []string     // *.test.yaml files found, in order
	// Hours are the opening hours of every hours.yaml found (also the one
	// beside a playbook file given by name); each program has them too.
	Hours engine.Hours
}
