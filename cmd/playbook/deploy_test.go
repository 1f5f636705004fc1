package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestSystemdUnitVerifies runs systemd-analyze verify on
// deploy/playbook.service, with ExecStart pointed at an executable that
// exists here (verify refuses a unit whose binary is missing). Any line it
// prints is a finding: an unknown or misspelt directive, a value systemd
// cannot parse, a bad specifier.
func TestSystemdUnitVerifies(t *testing.T) {
	if testing.Short() {
		t.Skip("runs systemd-analyze, a subprocess")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	unit, err := os.ReadFile("../../deploy/playbook.service")
	if err != nil {
		t.Fatal(err)
	}
	const exe = "/usr/local/bin/playbook"
	if !bytes.Contains(unit, []byte("ExecStart="+exe+" serve")) {
		t.Fatalf("the unit no longer starts %s serve; update this test with it", exe)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "playbook")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "playbook.service")
	if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte(exe), []byte(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("systemd-analyze verify deploy/playbook.service: %v\n%s", err, out)
	}
}
