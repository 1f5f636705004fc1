package bench_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/bench"
)

func TestCheckCapacity(t *testing.T) {
	if err := bench.CheckCapacity(100_000, 8, 20_000); err == nil || !strings.Contains(err.Error(), "101000 open files") || !strings.Contains(err.Error(), "limit here is 20000") {
		t.Errorf("100,000 connections under a 20,000 file limit: %v", err)
	}
	if err := bench.CheckCapacity(10_000, 8, 20_000); err != nil {
		t.Errorf("10,000 connections, 8 sources, 20,000 files: %v", err)
	}
	if runtime.GOOS != "linux" {
		return // the port range is read from /proc
	}
	// One source address has at most 64,511 ephemeral ports, whatever the
	// port range.
	if err := bench.CheckCapacity(100_000, 1, 1<<20); err == nil || !strings.Contains(err.Error(), "--sources is 1") {
		t.Errorf("100,000 connections from one source address: %v", err)
	}
}
