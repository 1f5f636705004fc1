package server

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/internal/race"
)

// TestSecurityHeadersAllocations (issue 13, eleventh round): the headers
// every response carries (a visitor's upgrade, every turn's conversation
// included) cost no allocation; Header.Set made a slice for each.
func TestSecurityHeadersAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/livez", nil), rec)
	h := securityHeaders(func(*echo.Context) error { return nil })
	if err := h(c); err != nil {
		t.Fatal(err)
	}
	if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
		t.Fatalf("X-Content-Type-Options: %q", got)
	}
	if got := rec.Header().Get("Referrer-Policy"); got != "same-origin" {
		t.Fatalf("Referrer-Policy: %q", got)
	}
	if n := testing.AllocsPerRun(100, func() { _ = h(c) }); n != 0 {
		t.Fatalf("%v allocations a response, want 0", n)
	}
}
