package server

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/protocol"
)

// The Settings screen's API (/api/admin/..., docs/protocol.md,
// "Administration"): each handler decodes, calls one service method (which
// asks access.Admin), encodes.

// inboxURL is the inbox's address as the request reached it, for the
// mails of invitations and password resets.
func inboxURL(c *echo.Context) string {
	return c.Scheme() + "://" + c.Request().Host + "/inbox"
}

func (s *Server) adminAgents(c *echo.Context) error {
	out, err := s.svc.AdminAgents(c.Request().Context(), agentOf(c))
	return jsonOr(c, out, err)
}

func (s *Server) inviteAgent(c *echo.Context) error {
	if err := s.svc.AdminCheck(agentOf(c)); err != nil {
		return problem(err)
	}
	var req protocol.InviteRequest
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	out, err := s.svc.InviteAgent(c.Request().Context(), agentOf(c), req, inboxURL(c))
	if err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) updateAgent(c *echo.Context) error {
	if err := s.svc.AdminCheck(agentOf(c)); err != nil {
		return problem(err)
	}
	var req protocol.AgentUpdate
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	out, err := s.svc.UpdateAgent(c.Request().Context(), agentOf(c), c.Param("id"), req)
	return jsonOr(c, out, err)
}

func (s *Server) setAgentDisabled(disabled bool) echo.HandlerFunc {
	return func(c *echo.Context) error {
		out, err := s.svc.SetAgentDisabled(c.Request().Context(), agentOf(c), c.Param("id"), disabled)
		return jsonOr(c, out, err)
	}
}

func (s *Server) resetAgentPassword(c *echo.Context) error {
	out, err := s.svc.ResetAgentPassword(c.Request().Context(), agentOf(c), c.Param("id"), inboxURL(c))
	return jsonOr(c, out, err)
}

func (s *Server) removeAgent(c *echo.Context) error {
	if err := s.svc.RemoveAgent(c.Request().Context(), agentOf(c), c.Param("id")); err != nil {
		return problem(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listTokens(c *echo.Context) error {
	out, err := s.svc.APITokens(c.Request().Context(), agentOf(c))
	return jsonOr(c, out, err)
}

func (s *Server) createToken(c *echo.Context) error {
	if err := s.svc.AdminCheck(agentOf(c)); err != nil {
		return problem(err)
	}
	var req protocol.TokenRequest
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	out, err := s.svc.CreateAPIToken(c.Request().Context(), agentOf(c), req)
	if err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusCreated, out)
}

func (s *Server) revokeToken(c *echo.Context) error {
	if err := s.svc.RevokeAPIToken(c.Request().Context(), agentOf(c), c.Param("id")); err != nil {
		return problem(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) adminTeams(c *echo.Context) error {
	out, err := s.svc.AdminTeams(c.Request().Context(), agentOf(c))
	return jsonOr(c, out, err)
}

func (s *Server) saveTeam(c *echo.Context) error {
	if err := s.svc.AdminCheck(agentOf(c)); err != nil {
		return problem(err)
	}
	var req protocol.Team
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	out, err := s.svc.SaveTeam(c.Request().Context(), agentOf(c), c.Param("name"), req)
	return jsonOr(c, out, err)
}

func (s *Server) testMail(c *echo.Context) error {
	out, err := s.svc.TestMail(c.Request().Context(), agentOf(c))
	return jsonOr(c, out, err)
}
