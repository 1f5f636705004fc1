package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchCompareClusterNeedsItsNodes: --compare with the cluster engine
// and no --cluster is a usage error (exit 2) that names the flag, before
// anything is started.
func TestBenchCompareClusterNeedsItsNodes(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"bench", "--compare", "cluster,redis", "--duration", "1s"}, nil, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--cluster HOST:PORT") {
		t.Errorf("exit %d, stderr %q; want 2 and a word on --cluster", code, errb.String())
	}
	if strings.Contains(errb.String(), "starting") {
		t.Errorf("something was started: %q", errb.String())
	}
}
