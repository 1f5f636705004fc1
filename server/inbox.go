package server

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"github.com/playbook-dev/playbook/store"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/transcript"
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
			a, err := s.inbox.AgentByAPIToken(ctx, tok)
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
		sess, err := s.inbox.SessionByToken(ctx, ck.Value)
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

func agentOf(c *echo.Context) *handoff.Agent {
	a, _ := c.Get(agentKey).(*handoff.Agent)
	return a
}

// inboxError, serviceError and accessError answer the services' errors:
// one table, conversation.ProblemOf (problem).
func inboxError(err error) error { return problem(err) }

func (s *Server) login(c *echo.Context) error {
	var req protocol.LoginRequest
	if err := decodeJSON(c, &req, 4<<10); err != nil {
		return err
	}
	sess, err := s.inbox.Login(c.Request().Context(), req.Email, req.Password, c.RealIP())
	if err != nil {
		return inboxError(err)
	}
	http.SetCookie(c.Response(), &http.Cookie{
		Name: sessionCookie, Value: sess.Token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: c.Request().TLS != nil || c.Request().Header.Get("X-Forwarded-Proto") == "https", MaxAge: int(handoff.SessionTTL.Seconds()),
	})
	s.log.Info("agent signed in", "agent", sess.Agent.ID, "ip", c.RealIP())
	return c.JSON(http.StatusOK, protocol.Login{Agent: conversation.WireAgent(sess.Agent), CSRF: sess.CSRF})
}

// logout ends the session: its /ws/agent sockets close (on every process)
// and the agent goes offline.
func (s *Server) logout(c *echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		ctx := c.Request().Context()
		sess, err := s.inbox.SessionByToken(ctx, ck.Value)
		_ = s.inbox.Logout(ctx, ck.Value)
		if err == nil {
			if err := s.inbox.SetPresence(ctx, sess.Agent, handoff.Offline); err != nil {
				s.log.Warn("logout: setting the agent offline", "agent", sess.Agent.ID, "err", err)
			}
			s.svc.PublishInbox(ctx, conversation.InboxEvent{Type: "session_ended", Session: sessionHash(ck.Value)})
		}
	}
	http.SetCookie(c.Response(), &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) me(c *echo.Context) error {
	a := agentOf(c)
	p, err := s.inbox.PresenceOf(c.Request().Context(), a)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, protocol.Me{Agent: conversation.WireAgent(a), CSRF: c.Get("csrf"), Presence: string(p), Mail: s.svc.MailOn()})
}

func (s *Server) setPresence(c *echo.Context) error {
	var req struct {
		Status handoff.Presence `json:"status"`
	}
	if err := decodeJSON(c, &req, 1<<10); err != nil {
		return err
	}
	a := agentOf(c)
	if err := s.inbox.SetPresence(c.Request().Context(), a, req.Status); err != nil {
		return inboxError(err)
	}
	if req.Status == handoff.Online {
		s.svc.RouteQueued(c.Request().Context(), a)
	}
	return c.JSON(http.StatusOK, map[string]any{"status": req.Status})
}

type agentInfo struct {
	*handoff.Agent
	Presence handoff.Presence `json:"presence"`
	Open     int              `json:"open"`
}

func (s *Server) listAgents(c *echo.Context) error {
	ctx := c.Request().Context()
	all, err := s.inbox.Agents(ctx)
	if err != nil {
		return err
	}
	ids := make([]string, len(all))
	for i, a := range all {
		ids[i] = a.ID
	}
	open, err := s.inbox.OpenCount(ctx, ids)
	if err != nil {
		return err
	}
	out := make([]agentInfo, 0, len(all))
	for _, a := range all {
		p, _ := s.inbox.PresenceOf(ctx, a)
		out = append(out, agentInfo{Agent: a, Presence: p, Open: open[a.ID]})
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) listConversations(c *echo.Context) error {
	list, err := s.inbox.List(c.Request().Context(), agentOf(c), c.QueryParamOr("folder", handoff.FolderUnassigned), 200)
	if err != nil {
		return inboxError(err)
	}
	if list == nil {
		list = []*handoff.Conversation{}
	}
	// Each conversation's previous ids only as far as this agent may see
	// them (not the visitor's chats with other teams).
	known, err := s.svc.PreviousKnown(c.Request().Context(), list...)
	if err != nil {
		return err
	}
	for _, conv := range list {
		if len(conv.Previous) > 0 {
			conv.Previous = access.PreviousIDs(agentOf(c), conv.Previous, known)
		}
	}
	return c.JSON(http.StatusOK, list)
}

// conversationJSON answers conversation conv to the signed-in agent, its
// previous ids only as far as the agent may see them (access.PreviousIDs).
func (s *Server) conversationJSON(c *echo.Context, conv *handoff.Conversation) error {
	if conv != nil && len(conv.Previous) > 0 {
		known, err := s.svc.PreviousKnown(c.Request().Context(), conv)
		if err != nil {
			return err
		}
		cp := *conv
		cp.Previous = access.PreviousIDs(agentOf(c), conv.Previous, known)
		conv = &cp
	}
	return c.JSON(http.StatusOK, conv)
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
	if _, aerr := s.conversationFor(c); aerr != nil {
		return aerr
	}
	return err
}

func serviceError(err error) error { return problem(err) }

func accessError(err error) error { return problem(err) }

// conversationFor loads a conversation the signed-in agent may see, as the
// access policy decides.
func (s *Server) conversationFor(c *echo.Context) (*handoff.Conversation, error) {
	conv, err := s.svc.Conversation(c.Request().Context(), agentOf(c), c.Param("id"))
	return conv, serviceError(err)
}

func (s *Server) getConversation(c *echo.Context) error {
	d, err := s.svc.Details(c.Request().Context(), agentOf(c), c.Param("id"))
	if err != nil {
		return serviceError(err)
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Server) getTranscript(c *echo.Context) error {
	conv, err := s.conversationFor(c)
	if err != nil {
		return err
	}
	entries, err := s.store.Transcript(c.Request().Context(), conv.ID, c.QueryParam("after"), 0)
	if err != nil {
		return inboxError(err)
	}
	if len(entries) == 0 {
		if archived, ok := s.svc.ArchivedTranscript(c.Request().Context(), conv.ID, c.QueryParam("after")); ok {
			entries = archived
		}
	}
	if c.QueryParam("format") == "txt" {
		c.Response().Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="conversation-%s.txt"`, conv.ID))
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", []byte(transcript.Internal(conv, entries)))
	}
	if entries == nil {
		entries = []store.Entry{}
	}
	return c.JSON(http.StatusOK, entries)
}

type idRequest struct {
	Agent string `json:"agent"`
	Team  string `json:"team"`
	Card  string `json:"card"`
}

func (s *Server) assignConversation(c *echo.Context) error {
	var req idRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	// No agent: take the chat from the queue (refused when someone else
	// has it). An agent, yourself included: (re)assign it to them.
	nc, err := s.svc.Take(c.Request().Context(), agentOf(c), c.Param("id"), req.Agent)
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

func (s *Server) unassignConversation(c *echo.Context) error {
	nc, err := s.svc.Unassign(c.Request().Context(), agentOf(c), c.Param("id"))
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

func (s *Server) transferConversation(c *echo.Context) error {
	var req idRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	nc, err := s.svc.Transfer(c.Request().Context(), agentOf(c), c.Param("id"), req.Team)
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

func (s *Server) handBack(c *echo.Context) error {
	var req idRequest
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	nc, err := s.svc.HandBack(c.Request().Context(), agentOf(c), c.Param("id"), req.Card)
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

type textRequest struct {
	Text     string `json:"text"`
	ClientID string `json:"client_id"`
}

func (r *textRequest) check() error {
	r.Text = strings.TrimSpace(r.Text)
	if r.Text == "" || utf8.RuneCountInString(r.Text) > maxText || !utf8.ValidString(r.Text) {
		return echo.NewHTTPError(http.StatusBadRequest, "text must be 1 to 4000 characters")
	}
	if len(r.ClientID) > 100 {
		return echo.NewHTTPError(http.StatusBadRequest, "client_id is at most 100 characters")
	}
	return nil
}

// postMessage sends an agent's reply to the visitor. Replying to a chat
// nobody has taken takes it.
func (s *Server) postMessage(c *echo.Context) error {
	var req textRequest
	if err := s.decodeAction(c, &req, 32<<10); err != nil {
		return err
	}
	if err := s.refuse(c, req.check()); err != nil {
		return err
	}
	e, err := s.svc.Reply(c.Request().Context(), agentOf(c), c.Param("id"), req.Text, req.ClientID)
	if err != nil {
		return serviceError(err)
	}
	return c.JSON(http.StatusOK, e)
}

// postNote adds a private note; the agents it @mentions are notified.
func (s *Server) postNote(c *echo.Context) error {
	var req textRequest
	if err := s.decodeAction(c, &req, 32<<10); err != nil {
		return err
	}
	if err := s.refuse(c, req.check()); err != nil {
		return err
	}
	e, err := s.svc.Note(c.Request().Context(), agentOf(c), c.Param("id"), req.Text, req.ClientID)
	if err != nil {
		return serviceError(err)
	}
	return c.JSON(http.StatusOK, e)
}

// deleteMessage deletes an agent's message or note: its author or an admin
// (the access policy).
func (s *Server) deleteMessage(c *echo.Context) error {
	e, err := s.svc.DeleteEntry(c.Request().Context(), agentOf(c), c.Param("id"), c.Param("entry"))
	if err != nil {
		return serviceError(err)
	}
	return c.JSON(http.StatusOK, e)
}

func (s *Server) setLabels(c *echo.Context) error {
	var req struct {
		Add    []string `json:"add"`
		Remove []string `json:"remove"`
	}
	if err := s.decodeAction(c, &req, 4<<10); err != nil {
		return err
	}
	nc, err := s.svc.SetLabels(c.Request().Context(), agentOf(c), c.Param("id"), req.Add, req.Remove)
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

func (s *Server) snooze(c *echo.Context) error {
	var req struct {
		Until string `json:"until"`
	}
	if err := s.decodeAction(c, &req, 1<<10); err != nil {
		return err
	}
	nc, err := s.svc.Snooze(c.Request().Context(), agentOf(c), c.Param("id"), req.Until)
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

func (s *Server) resolve(c *echo.Context) error {
	nc, err := s.svc.Resolve(c.Request().Context(), agentOf(c), c.Param("id"))
	if err != nil {
		return serviceError(err)
	}
	return s.conversationJSON(c, nc)
}

func (s *Server) agentTyping(c *echo.Context) error {
	conv, err := s.conversationFor(c)
	if err != nil {
		return err
	}
	var req struct {
		On bool `json:"on"`
	}
	if err := decodeJSON(c, &req, 1<<10); err != nil {
		return err
	}
	s.publishSignal(c.Request().Context(), conv.ID, signal{Type: "typing", From: "agent", Author: agentOf(c).Name, On: req.On})
	return c.NoContent(http.StatusNoContent)
}

// cannedView is a canned response as the signed-in agent sees it.
type cannedView struct {
	*handoff.Canned
	// Editable: the agent may change and delete it.
	Editable bool `json:"editable"`
}

// listCanned answers the canned responses the agent may use: their teams',
// their own and the shared ones (access.CanReadCanned).
func (s *Server) listCanned(c *echo.Context) error {
	me := agentOf(c)
	all, err := s.inbox.CannedResponses(c.Request().Context())
	if err != nil {
		return err
	}
	out := make([]cannedView, 0, len(all))
	for _, x := range all {
		if access.CanReadCanned(me, x) {
			out = append(out, cannedView{Canned: x, Editable: access.EditCanned(me, x) == nil})
		}
	}
	return c.JSON(http.StatusOK, out)
}

type cannedRequest struct {
	Short *string `json:"short"`
	Text  *string `json:"text"`
	Scope string  `json:"scope"`
	Team  string  `json:"team"`
}

func (s *Server) saveCanned(c *echo.Context) error {
	var req cannedRequest
	if err := decodeJSON(c, &req, 8<<10); err != nil {
		return err
	}
	me := agentOf(c)
	n := handoff.Canned{Short: deref(req.Short), Text: deref(req.Text), Scope: req.Scope, Team: req.Team, CreatedBy: me.ID}
	if err := handoff.DefaultScope(&n, me); err != nil {
		return inboxError(err)
	}
	if err := access.NewCanned(me, &n); err != nil {
		return accessError(err)
	}
	created, err := s.inbox.CreateCanned(c.Request().Context(), n)
	if err != nil {
		return inboxError(err)
	}
	return c.JSON(http.StatusOK, cannedView{Canned: created, Editable: true})
}

// cannedFor loads the canned response of the path that the agent may
// change: 404 when there is none or they may not read it (others' ids are
// not revealed), 403 when they may read but not change it.
func (s *Server) cannedFor(c *echo.Context) (*handoff.Canned, error) {
	me := agentOf(c)
	x, err := s.inbox.CannedByID(c.Request().Context(), c.Param("id"))
	if errors.Is(err, handoff.ErrNotFound) || (err == nil && !access.CanReadCanned(me, x)) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "no canned response with that id")
	}
	if err != nil {
		return nil, err
	}
	if err := access.EditCanned(me, x); err != nil {
		return nil, accessError(err)
	}
	return x, nil
}

func (s *Server) updateCanned(c *echo.Context) error {
	x, err := s.cannedFor(c)
	if err != nil {
		return err
	}
	var req cannedRequest
	if err := decodeJSON(c, &req, 8<<10); err != nil {
		return err
	}
	if req.Scope != "" && req.Scope != x.Scope || req.Team != "" && req.Team != x.Team {
		return echo.NewHTTPError(http.StatusBadRequest, "a canned response keeps its scope and team; save a new one instead")
	}
	short, text := x.Short, x.Text
	if req.Short != nil {
		short = *req.Short
	}
	if req.Text != nil {
		text = *req.Text
	}
	nc, err := s.inbox.UpdateCanned(c.Request().Context(), x.ID, short, text)
	if err != nil {
		return inboxError(err)
	}
	return c.JSON(http.StatusOK, cannedView{Canned: nc, Editable: true})
}

func (s *Server) deleteCanned(c *echo.Context) error {
	x, err := s.cannedFor(c)
	if err != nil {
		return err
	}
	if err := s.inbox.DeleteCanned(c.Request().Context(), x.ID); err != nil {
		if errors.Is(err, handoff.ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "no canned response with that id")
		}
		return inboxError(err)
	}
	return c.NoContent(http.StatusNoContent)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
