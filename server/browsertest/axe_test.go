package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeClean runs axe-core (the file $AXE_CORE names; scripts/test installs
// it) on the page as it is now, and fails the test with every violation:
// its rule, impact and the elements. Without AXE_CORE the check is
// skipped with a log line, except under CI=true, where it fails.
func axeClean(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	path := os.Getenv("AXE_CORE")
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but AXE_CORE is not set: run the browser tests through scripts/test, which installs axe-core")
		}
		t.Logf("%s: no accessibility check (set AXE_CORE to axe.min.js, or run through scripts/test)", what)
		return
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("axe-core: %v", err)
	}
	// DevTools evaluation is not the page's script: the page's
	// Content-Security-Policy does not apply to it.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== 'undefined' || (() => { `+string(src)+`; return true })()`)); err != nil {
		t.Fatalf("loading axe-core: %v", err)
	}
	js := `axe.run(document, {resultTypes: ['violations']}).then(r => JSON.stringify(r.violations.map(v => ({
		id: v.id, impact: v.impact, help: v.help,
		nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + (n.failureSummary || '').replace(/\s+/g, ' '))}))))`
	out, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core on %s: %v", what, err)
	}
	var vs []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		t.Fatalf("axe-core's answer %q: %v", out, err)
	}
	for _, v := range vs {
		t.Errorf("%s: axe-core %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}
