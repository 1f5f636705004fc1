package metrics_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/playbook-dev/playbook/internal/metrics"
)

// dashboard is what the test reads of docs/grafana-dashboard.json.
type dashboard struct {
	Title  string  `json:"title"`
	UID    string  `json:"uid"`
	Panels []panel `json:"panels"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
}

var metricName = regexp.MustCompile(`\b(?:playbook|process|go)_[a-z0-9_]+\b`)

// knownNames are the names a query may use: every family's, with a
// histogram's _bucket, _count and _sum.
func knownNames(t *testing.T) map[string]bool {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	if err := m.Pending(&pending{}); err != nil {
		t.Fatal(err)
	}
	touch(m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, f := range fams {
		known[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_count", "_sum"} {
				known[f.GetName()+s] = true
			}
		}
	}
	return known
}

// TestDashboardQueriesExist: docs/grafana-dashboard.json is a dashboard
// whose every query names only metrics the server exports, and that shows
// every family.
func TestDashboardQueriesExist(t *testing.T) {
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	if d.Title == "" || d.UID == "" || len(d.Panels) == 0 {
		t.Fatalf("no title, uid or panels: %q %q %d", d.Title, d.UID, len(d.Panels))
	}
	known := knownNames(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.H <= 0 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] {
				t.Errorf("panel %q: refId %q twice", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				if !known[n] {
					t.Errorf("panel %q: query %q names %s, which the server does not export", p.Title, tg.Expr, n)
				}
				used[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")] = true
			}
		}
	}
	for _, f := range metrics.Families() {
		if !used[f] {
			t.Errorf("no panel shows %s", f)
		}
	}
}

// TestMetricsDocNamesEveryFamily: docs/metrics.md explains every family,
// and names none that does not exist.
func TestMetricsDocNamesEveryFamily(t *testing.T) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, f := range metrics.Families() {
		if !strings.Contains(doc, "**`"+f) {
			t.Errorf("docs/metrics.md has no entry for %s", f)
		}
	}
	known := knownNames(t)
	for _, n := range slices.Compact(slices.Sorted(slices.Values(metricName.FindAllString(doc, -1)))) {
		if strings.HasPrefix(n, "playbook_") && !known[n] {
			t.Errorf("docs/metrics.md names %s, which the server does not export", n)
		}
	}
}
