package server

import (
	"bytes"
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
)

// getStats answers GET /api/stats?since=YYYY-MM-DD&playbook=ID: the
// funnel as JSON, or its counters as CSV with format=csv (a download).
func (s *Server) getStats(c *echo.Context) error {
	q := conversation.StatsQuery{Since: c.QueryParam("since"), Playbook: c.QueryParam("playbook")}
	ctx := c.Request().Context()
	if c.QueryParam("format") != "csv" {
		st, err := s.svc.Stats(ctx, agentOf(c), q)
		return jsonOr(c, st, err)
	}
	var buf bytes.Buffer
	if err := s.svc.StatsCSV(ctx, agentOf(c), q, &buf); err != nil {
		return problem(err)
	}
	c.Response().Header().Set("Content-Disposition", `attachment; filename="playbook-funnel.csv"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}
