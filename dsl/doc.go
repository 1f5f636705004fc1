// Package dsl turns playbook YAML into a checked, compiled [engine.Program].
//
// The pipeline has one entry point per use ([Load] for one source, [LoadPaths]
// for files and directories) and separate stages inside: decode through
// yaml.Node so every key and value keeps its line and column, build a syntax
// tree, check it (every problem in one pass, sorted by position), and compile
// it, expressions included, to an immutable program.
package dsl
