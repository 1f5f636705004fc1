package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
)

const sessionCookie = "pb_session"

// agentKey is where the signed-in agent is kept on the request context.
const agentKey = "agent"

// requireAgent lets a request through when it carries a signed-in session
// (and, for changes, its CSRF token) or an API token.
func (s *Server) requireAgent(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		ctx := c.Request().Context()
		if tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer "); ok {
			a, err := s.svc.AgentByAPIToken(ctx, tok)
			if err != nil {
				return echo.NewHTTPError(http.StatusUnauthorized, "unknown API token")
			}
			c.Set(agentKey, a)
			return next(c)
		}
		ck, err := c.Cookie(sessionCookie)
		if err != nil {
			return echo.NewHTTPError(http.StatusUnauthorized, "sign in first")
		}
		sess, err := s.svc.Session(ctx, ck.Value)
		if err != nil {
			return echo.NewHTTPError(http.StatusUnauthorized, "your session has ended; sign in again")
		}
		if c.Request().Method != http.MethodGet && c.Request().Method != http.MethodHead {
			got := c.Request().Header.Get("X-CSRF-Token")
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
				return echo.NewHTTPError(http.StatusForbidden, "missing or wrong CSRF token")
			}
		}
		c.Set(agentKey, sess.Agent)
		c.Set("csrf", sess.CSRF)
		return next(c)
	}
}

func agentOf(c *echo.Context) *conversation.Agent {
	a, _ := c.Get(agentKey).(*conversation.Agent)
	return a
}

// jsonOr answers v, or err when there is one (its problem: one table,
// conversation.ProblemOf).
func jsonOr(c *echo.Context, v any, err error) error {
	if err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusOK, v)
}

func (s *Server) login(c *echo.Context) error {
	var req protocol.LoginRequest
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	sess, err := s.svc.SignIn(c.Request().Context(), req.Email, req.Password, c.RealIP())
	if err != nil {
		return problem(err)
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: sessionCookie, Value: sess.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https", MaxAge: conversation.SessionMaxAge(),
	})
	s.log.Info("agent signed in", "agent", sess.Agent.ID, "ip", c.RealIP())
	return c.JSON(http.StatusOK, protocol.Login{Agent: conversation.WireAgent(sess.Agent), CSRF: sess.CSRF})
}

// logout ends the session: its /ws/agent sockets close (on every process)
// and the agent goes offline.
func (s *Server) logout(c *echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		s.svc.SignOut(c.Request().Context(), ck.Value)
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c *echo.Context) error {
	me, err := s.svc.Me(c.Request().Context(), agentOf(c))
	if err != nil {
		return err
	}
	me.CSRF = c.Get("csrf")
	return c.JSON(http.StatusOK, me)
}

func (s *Server) setPresence(c *echo.Context) error {
	var req protocol.PresenceRequest
	if err := decodeJSON(c, &req, 1<<10); err != nil {
		return err
	}
	if err := s.svc.SetPresence(c.Request().Context(), agentOf(c), req.Status); err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusOK, req)
}

func (s *Server) listAgents(c *echo.Context) error {
	all, err := s.svc.Agents(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, all)
}

func (s *Server) listConversations(c *echo.Context) error {
	list, err := s.svc.List(c.Request().Context(), agentOf(c), c.QueryParam("folder"))
	return jsonOr(c, list, err)
}

// decodeAction decodes the body of an action on conversation :id. A body
// it cannot decode is refused, but the access policy's answer comes first:
// whoever may not act on the conversation learns nothing from their body.
func (s *Server) decodeAction(c *echo.Context, v any, limit int64) error {
	return s.refuse(c, decodeJSON(c, v, limit))
}

// refuse returns err, a bad request about an action on conversation :id,
// unless the access policy refuses the action: then that refusal.
func (s *Server) refuse(c *echo.Context, err error) error {
	if err == nil {
		return nil
	}
	if aerr := s.mayActOn(c); aerr != nil {
		return aerr
	}
	return err
}

// mayActOn answers whether the signed-in agent may see conversation :id,
// as the access policy decides: nil, or the refusal to answer.
func (s *Server) mayActOn(c *echo.Context) error {
	_, err := s.svc.Conversation(c.Request().Context(), agentOf(c), c.Param("id"))
	return problem(err)
}

func (s *Server) getConversation(c *echo.Context) error {
	d, err := s.svc.DetailsView(c.Request().Context(), agentOf(c), c.Param("id"))
	return jsonOr(c, d, err)
}

func (s *Server) getTranscript(c *echo.Context) error {
	ctx, id := c.Request().Context(), c.Param("id")
	if c.QueryParam("format") == "txt" {
		text, err := s.svc.TranscriptText(ctx, agentOf(c), id, c.QueryParam("after"))
		if err != nil {
			return problem(err)
		}
		c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="conversation-%s.txt"`, id))
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(text))
	}
	entries, err := s.svc.Transcript(ctx, agentOf(c), id, c.QueryParam("after"))
	return jsonOr(c, entries, err)
}

type idRequest struct {
	Agent string `json:"agent"`
	Team  string `json:"team"`
	Card  string `json:"card"`
}

// viewJSON answers the conversation an action returned (nc, err) as the
// signed-in agent sees it.
func (s *Server) viewJSON(c *echo.Context) func(*protocol.Conversation, error) error {
	return func(v *protocol.Conversation, err error) error { return jsonOr(c, v, err) }
}

func (s *Server) assignConversation(c *echo.Context) error {
	var req idRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	// No agent: take the chat from the queue (refused when someone else
	// has it). An agent, yourself included: (re)assign it to them.
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.Take(ctx, a, c.Param("id"), req.Agent)
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) unassignConversation(c *echo.Context) error {
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.Unassign(ctx, a, c.Param("id"))
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) transferConversation(c *echo.Context) error {
	var req idRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.Transfer(ctx, a, c.Param("id"), req.Team)
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) handBack(c *echo.Context) error {
	var req idRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.HandBack(ctx, a, c.Param("id"), req.Card)
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

// checkText checks a message's or note's request (protocol's rules): a
// bad request, unless the access policy refuses the action first.
func (s *Server) checkText(c *echo.Context, req *protocol.TextRequest) error {
	if perr := req.Check(); perr != nil {
		return s.refuse(c, echo.NewHTTPError(http.StatusBadRequest, perr.Message))
	}
	return nil
}

// postMessage sends an agent's reply to the visitor. Replying to a chat
// nobody has taken takes it.
func (s *Server) postMessage(c *echo.Context) error {
	var req protocol.TextRequest
	if err := s.decodeAction(c, &req, 32<<10); err != nil {
		return err
	}
	if err := s.checkText(c, &req); err != nil {
		return err
	}
	e, err := s.svc.Reply(c.Request().Context(), agentOf(c), c.Param("id"), req.Text, req.ClientID)
	if err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusOK, conversation.WireEntry(e))
}

// postNote adds a private note; the agents it @mentions are notified.
func (s *Server) postNote(c *echo.Context) error {
	var req protocol.TextRequest
	if err := s.decodeAction(c, &req, 32<<10); err != nil {
		return err
	}
	if err := s.checkText(c, &req); err != nil {
		return err
	}
	e, err := s.svc.Note(c.Request().Context(), agentOf(c), c.Param("id"), req.Text, req.ClientID)
	if err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusOK, conversation.WireEntry(e))
}

// deleteMessage deletes an agent's message or note: its author or an admin
// (the access policy).
func (s *Server) deleteMessage(c *echo.Context) error {
	e, err := s.svc.DeleteEntry(c.Request().Context(), agentOf(c), c.Param("id"), c.Param("entry"))
	if err != nil {
		return problem(err)
	}
	return c.JSON(http.StatusOK, conversation.WireEntry(e))
}

func (s *Server) setLabels(c *echo.Context) error {
	var req protocol.LabelsRequest
	if err := s.decodeAction(c, &req, 4<<10); err != nil {
		return err
	}
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.SetLabels(ctx, a, c.Param("id"), req.Add, req.Remove)
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) snooze(c *echo.Context) error {
	var req protocol.SnoozeRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.Snooze(ctx, a, c.Param("id"), req.Until)
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) resolve(c *echo.Context) error {
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.Resolve(ctx, a, c.Param("id"))
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) reopen(c *echo.Context) error {
	ctx, a := c.Request().Context(), agentOf(c)
	nc, err := s.svc.Reopen(ctx, a, c.Param("id"))
	if err != nil {
		return problem(err)
	}
	return s.viewJSON(c)(s.svc.View(ctx, a, nc))
}

func (s *Server) agentTyping(c *echo.Context) error {
	if err := s.mayActOn(c); err != nil {
		return err
	}
	var req protocol.TypingRequest
	if err := decodeJSON(c, &req, 1<<10); err != nil {
		return err
	}
	s.svc.PublishSignal(c.Request().Context(), c.Param("id"), conversation.Signal{Type: "typing", From: "agent", Author: agentOf(c).Name, On: req.On})
	return c.NoContent(http.StatusNoContent)
}

// listCanned answers the canned responses the agent may use: their teams',
// their own and the shared ones.
func (s *Server) listCanned(c *echo.Context) error {
	list, err := s.svc.CannedResponses(c.Request().Context(), agentOf(c))
	return jsonOr(c, list, err)
}

func (s *Server) saveCanned(c *echo.Context) error {
	var req protocol.CannedRequest
	if err := decodeJSON(c, &req, 8<<10); err != nil {
		return err
	}
	x, err := s.svc.CreateCanned(c.Request().Context(), agentOf(c), req)
	return jsonOr(c, x, err)
}

// updateCanned changes a canned response: 404 when there is none or the
// agent may not read it (others' ids are not revealed), 403 when they may
// read but not change it; those answers come before the body's.
func (s *Server) updateCanned(c *echo.Context) error {
	ctx, a, id := c.Request().Context(), agentOf(c), c.Param("id")
	var req protocol.CannedRequest
	if err := decodeJSON(c, &req, 8<<10); err != nil {
		if aerr := s.svc.MayEditCanned(ctx, a, id); aerr != nil {
			return problem(aerr)
		}
		return err
	}
	x, err := s.svc.UpdateCanned(ctx, a, id, req)
	return jsonOr(c, x, err)
}

func (s *Server) deleteCanned(c *echo.Context) error {
	if err := s.svc.DeleteCanned(c.Request().Context(), agentOf(c), c.Param("id")); err != nil {
		return problem(err)
	}
	return c.NoContent(http.StatusNoContent)
}
