// Package race tells whether the binary was built with the race
// detector (go test -race), under which allocation counts differ (sync.Pool
// drops what it keeps, the detector allocates): tests that assert them
// (testing.AllocsPerRun) skip or loosen with it; scripts/test runs them
// again without it (-run Allocations). Only tests import it.
package race

import "testing"

// SkipAllocCounts skips t under the race detector.
func SkipAllocCounts(t testing.TB) {
	t.Helper()
	if Enabled {
		t.Skip("allocation counts differ under the race detector")
	}
}
