package server

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
)

// The CRM routes: the CRM API and the CRM part of a conversation's details
// panel. Each decodes, calls the conversation service, encodes; the
// service decides (package conversation, crmpanel.go), and its errors are
// answered by errorHandler.

// DefaultCRMFields are the fields the inbox's details panel shows of each
// kind, when Config.CRMFields does not say otherwise.
var DefaultCRMFields = conversation.DefaultCRMFields

// listRecords answers GET /api/people, /leads, /deals, /tasks,
// /organizations: ?q= searches, ?owner=me|ID, ?person=ID, ?stage=,
// ?playbook= (the source playbook), ?status=open|done and ?due_before=
// (RFC 3339) for tasks, ?limit=, ?before= (RFC 3339) pages back.
func (s *Server) listRecords(kind string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		q := conversation.RecordQuery{Kind: kind, Q: c.QueryParam("q"), Person: c.QueryParam("person"), Owner: c.QueryParam("owner"),
			Stage: c.QueryParam("stage"), Playbook: c.QueryParam("playbook"), Status: c.QueryParam("status")}
		if l := c.QueryParam("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 {
				return echo.NewHTTPError(http.StatusBadRequest, "limit is a number from 1 to 500")
			}
			q.Limit = n
		}
		if b := c.QueryParam("before"); b != "" {
			t, err := time.Parse(time.RFC3339Nano, b)
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "before is a time (RFC 3339)")
			}
			q.Before = t
		}
		if b := c.QueryParam("due_before"); b != "" {
			t, err := time.Parse(time.RFC3339Nano, b)
			if err != nil {
				return echo.NewHTTPError(http.StatusBadRequest, "due_before is a time (RFC 3339)")
			}
			q.DueBefore = t
		}
		list, err := s.svc.Records(c.Request().Context(), agentOf(c), q)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, list)
	}
}

// getRecord answers GET /api/{kind}/{id}: protocol.RecordDetails.
func (s *Server) getRecord(kind string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		d, err := s.svc.Record(c.Request().Context(), agentOf(c), kind, c.Param("id"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, d)
	}
}

// getFeed answers GET /api/{kind}/{id}/feed?type=chats|notes|records&limit=.
func (s *Server) getFeed(kind string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		limit := 0
		if l := c.QueryParam("limit"); l != "" {
			limit, _ = strconv.Atoi(l)
		}
		items, err := s.svc.Feed(c.Request().Context(), agentOf(c), kind, c.Param("id"), c.QueryParam("type"), limit)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, items)
	}
}

// completeTask answers POST /api/tasks/{id}/done: protocol.TaskDone (an
// empty body marks it done), the task.
func (s *Server) completeTask(c *echo.Context) error {
	var req protocol.TaskDone
	if err := decodeJSON(c, &req, 1<<10); err != nil {
		return err
	}
	r, err := s.svc.CompleteTask(c.Request().Context(), agentOf(c), c.Param("id"), req.Done == nil || *req.Done)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// updatePerson answers PUT /api/people/{id}: protocol.PersonUpdate.
func (s *Server) updatePerson(c *echo.Context) error {
	var req protocol.PersonUpdate
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	p, err := s.svc.UpdatePerson(c.Request().Context(), agentOf(c), c.Param("id"), req.Name, req.Phone)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// getCRMPanel answers GET /api/conversations/{id}/crm: protocol.Panel.
func (s *Server) getCRMPanel(c *echo.Context) error {
	p, err := s.svc.Panel(c.Request().Context(), agentOf(c), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// createFromConversation answers POST /api/conversations/{id}/lead,
// /deal and /notify-sales (kind note): protocol.RecordResult, the record
// and the refreshed panel.
func (s *Server) createFromConversation(kind string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		var req protocol.RecordRequest
		if err := decodeJSON(c, &req, 16<<10); err != nil {
			return err
		}
		res, err := s.svc.CreateFromChat(c.Request().Context(), agentOf(c), c.Param("id"), kind, req)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, res)
	}
}
