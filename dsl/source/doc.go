// Package source holds positions in playbook files and the diagnostics the
// compiler reports against them, plus the caret renderer the CLI prints.
//
// It is a leaf package: it imports only the standard library, so every other
// package (the compiler, the engine's runtime errors, the server's JSON API)
// can speak about positions in the same terms.
package source
