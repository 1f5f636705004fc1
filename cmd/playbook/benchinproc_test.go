package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/bench"
)

// TestInProcessIdleWidgets runs what playbook bench --idle N --in-process
// runs in each child, in this process: serve (the embedded store) on
// in-memory connections, and the control, with 200 idle widgets each.
func TestInProcessIdleWidgets(t *testing.T) {
	dir := t.TempDir()
	books, _, err := benchPlaybook(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"serve", "control"} {
		t.Run(kind, func(t *testing.T) {
			var out, errs bytes.Buffer
			o := &benchOptions{inProcessChild: kind, idle: 200, hold: time.Millisecond, settle: time.Millisecond, turnTimeout: 10 * time.Second, sources: 8}
			args := []string{"--playbooks", books, "--data", filepath.Join(dir, "data"), "--simulate-presence", "bench",
				"--connects-per-minute", "-1", "--default-playbook", "qualify", "--access-log=false"}
			if err := inProcessChild(context.Background(), &stdio{out: &out, err: &errs}, o, args); err != nil {
				t.Fatalf("%v\n%s", err, errs.String())
			}
			var res bench.InProcessResult
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if res.Connections != 200 || res.Errors != 0 || res.Closed != 0 {
				t.Fatalf("%d connections, %d errors %v, %d closed by the server", res.Connections, res.Errors, res.ErrorSamples, res.Closed)
			}
			if kind == "serve" && res.Connected.Goroutines < 200 {
				// serve keeps a reader per connection; the control none.
				t.Fatalf("serve with 200 idle widgets: %d goroutines", res.Connected.Goroutines)
			}
		})
	}
}
