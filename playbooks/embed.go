// Package playbooks holds the example playbooks. Go code needs only one of
// them: the benchmark's reference conversation, built into the binary so
// `playbook bench` runs from anywhere.
package playbooks

import _ "embed"

// BenchQualify is bench/qualify.yaml: the reference conversation of
// BENCH.md that `playbook bench` drives.
//
//go:embed bench/qualify.yaml
var BenchQualify []byte
