package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/server/web"
)

// visitorPath is the visitors' websocket (docs/protocol.md).
const visitorPath = "/ws/visitor"

// routes is the route table, top to bottom.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.Logger = s.log
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.accessLog())
	e.Use(middleware.Recover())
	e.Use(securityHeaders)

	static, _ := fs.Sub(web.Static, "static")
	gz := middleware.Gzip() // the widget is ~65 KB, ~20 KB gzipped
	e.GET("/", s.file(static, "demo/index.html"), gz)
	e.GET("/widget.js", s.file(static, "widget.js"), gz)
	e.GET("/static/*", s.staticFiles(static), gz)
	e.GET("/livez", s.live)
	e.GET("/healthz", s.live) // the older name of /livez, kept as its alias
	e.GET("/readyz", s.ready)
	if s.cfg.MetricsToken != "" && s.app.Metrics() != nil {
		e.GET("/metrics", echo.WrapHandler(s.app.Metrics().Handler(s.cfg.MetricsToken)))
	}

	e.GET(visitorPath, s.handleVisitorWS)
	e.POST("/api/widget/match", s.match, middleware.CORSWithConfig(middleware.CORSConfig{
		UnsafeAllowOriginFunc: func(_ *echo.Context, origin string) (string, bool, error) {
			return origin, s.originAllowed(origin), nil
		},
		AllowMethods: []string{http.MethodPost},
		AllowHeaders: []string{"Content-Type"},
		MaxAge:       3600,
	}))
	e.OPTIONS("/api/widget/match", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) }, middleware.CORSWithConfig(middleware.CORSConfig{
		UnsafeAllowOriginFunc: func(_ *echo.Context, origin string) (string, bool, error) {
			return origin, s.originAllowed(origin), nil
		},
		AllowMethods: []string{http.MethodPost},
		AllowHeaders: []string{"Content-Type"},
		MaxAge:       3600,
	}))

	e.POST("/api/widget/files", s.postVisitorFile, s.visitorFileCORS())
	e.OPTIONS("/api/widget/files", func(c *echo.Context) error { return c.NoContent(http.StatusNoContent) }, s.visitorFileCORS())
	e.GET("/api/widget/files/:conv/:file", s.getVisitorFile)

	e.GET("/inbox", s.file(static, "inbox/index.html"), gz)
	e.GET("/inbox/", s.file(static, "inbox/index.html"), gz)
	e.POST("/api/auth/login", s.login)
	e.POST("/api/auth/logout", s.logout)
	agent := e.Group("/api", s.requireAgent)
	agent.GET("/me", s.me)
	agent.PUT("/me/presence", s.setPresence)
	agent.GET("/agents", s.listAgents)
	agent.GET("/conversations", s.listConversations)
	agent.GET("/conversations/:id", s.getConversation)
	agent.GET("/conversations/:id/transcript", s.getTranscript)
	agent.POST("/conversations/:id/assign", s.assignConversation)
	agent.POST("/conversations/:id/unassign", s.unassignConversation)
	agent.POST("/conversations/:id/transfer", s.transferConversation)
	agent.POST("/conversations/:id/handback", s.handBack)
	agent.POST("/conversations/:id/messages", s.postMessage)
	agent.DELETE("/conversations/:id/messages/:entry", s.deleteMessage)
	agent.POST("/conversations/:id/notes", s.postNote)
	agent.POST("/conversations/:id/labels", s.setLabels)
	agent.POST("/conversations/:id/snooze", s.snooze)
	agent.POST("/conversations/:id/resolve", s.resolve)
	agent.POST("/conversations/:id/reopen", s.reopen)
	agent.POST("/conversations/:id/typing", s.agentTyping)
	agent.POST("/conversations/:id/transcript/email", s.emailTranscript)
	agent.POST("/conversations/:id/files", s.postFile)
	agent.GET("/conversations/:id/files/:file", s.getFile)
	agent.GET("/canned", s.listCanned)
	agent.POST("/canned", s.saveCanned)
	agent.PUT("/canned/:id", s.updateCanned)
	agent.DELETE("/canned/:id", s.deleteCanned)
	agent.GET("/conversations/:id/crm", s.getCRMPanel)
	agent.POST("/conversations/:id/lead", s.createFromConversation(conversation.KindLead))
	agent.POST("/conversations/:id/deal", s.createFromConversation(conversation.KindDeal))
	agent.POST("/conversations/:id/notify-sales", s.createFromConversation(conversation.KindNote))
	agent.GET("/people", s.listRecords(conversation.KindPerson))
	agent.GET("/people/:id", s.getRecord(conversation.KindPerson))
	agent.PUT("/people/:id", s.updatePerson)
	agent.GET("/people/:id/feed", s.getFeed(conversation.KindPerson))
	agent.GET("/organizations", s.listRecords(conversation.KindOrganization))
	agent.GET("/organizations/:id", s.getRecord(conversation.KindOrganization))
	agent.GET("/organizations/:id/feed", s.getFeed(conversation.KindOrganization))
	agent.GET("/leads", s.listRecords(conversation.KindLead))
	agent.GET("/leads/:id", s.getRecord(conversation.KindLead))
	agent.GET("/leads/:id/feed", s.getFeed(conversation.KindLead))
	agent.GET("/deals", s.listRecords(conversation.KindDeal))
	agent.GET("/deals/:id", s.getRecord(conversation.KindDeal))
	agent.GET("/deals/:id/feed", s.getFeed(conversation.KindDeal))
	agent.GET("/tasks", s.listRecords(conversation.KindTask))
	agent.GET("/tasks/:id", s.getRecord(conversation.KindTask))
	agent.POST("/tasks/:id/done", s.completeTask)
	agent.GET("/stats", s.getStats)
	e.GET("/ws/agent", s.handleAgentWS, s.requireAgent)

	// Team administration: the inbox's Settings screen, admins only
	// (conversation's admin methods ask access.Admin).
	settings := e.Group("/api/admin", s.requireAgent)
	settings.GET("/agents", s.adminAgents)
	settings.POST("/agents", s.inviteAgent)
	settings.PUT("/agents/:id", s.updateAgent)
	settings.POST("/agents/:id/disable", s.setAgentDisabled(true))
	settings.POST("/agents/:id/enable", s.setAgentDisabled(false))
	settings.POST("/agents/:id/password", s.resetAgentPassword)
	settings.DELETE("/agents/:id", s.removeAgent)
	settings.GET("/tokens", s.listTokens)
	settings.POST("/tokens", s.createToken)
	settings.DELETE("/tokens/:id", s.revokeToken)
	settings.GET("/teams", s.adminTeams)
	settings.PUT("/teams/:name", s.saveTeam)
	settings.POST("/mail/test", s.testMail)

	admin := e.Group("/api/playbooks", s.requireAdmin)
	admin.GET("", s.listPlaybooks)
	admin.POST("", s.postPlaybook)
	return e
}

// errorHandler answers every error as JSON {"error": message}: a
// handler's own HTTP error as it is, a service's domain error by its
// conversation.ProblemOf (so a handler returns the service's error as it
// comes), anything else as 500, its cause in the log only.
func (s *Server) errorHandler(c *echo.Context, err error) {
	if resp, uErr := echo.UnwrapResponse(c.Response()); uErr == nil && resp.Committed {
		return
	}
	code := http.StatusInternalServerError
	msg := "internal error"
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		code, msg = he.Code, he.Message
	case echo.StatusCode(err) != 0: // echo's own: not found, method not allowed
		code = echo.StatusCode(err)
		msg = strings.ToLower(http.StatusText(code))
	case conversation.ProblemOf(err) != nil:
		p := conversation.ProblemOf(err)
		code, msg = p.Status, p.Message
	default:
		s.log.Error("request failed", "id", c.Response().Header().Get(requestIDHeader), "path", c.Request().URL.Path, "err", err)
	}
	_ = c.JSON(code, map[string]string{"error": msg})
}

// problem is err answered by its conversation.ProblemOf now, as an
// echo.HTTPError (errorHandler would do the same later).
func problem(err error) error {
	if p := conversation.ProblemOf(err); p != nil {
		return echo.NewHTTPError(p.Status, p.Message)
	}
	return err
}

func (s *Server) file(fsys fs.FS, name string) echo.HandlerFunc {
	return func(c *echo.Context) error {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		h := c.Response().Header()
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if path.Ext(name) == ".html" {
			pageHeaders(h)
		}
		return c.Blob(http.StatusOK, contentType(name), b)
	}
}

// pagePolicy is the Content-Security-Policy of the server's own pages (the
// inbox and the demo): scripts, styles and connections only from this
// server (no inline script or style, no eval), images also as data: URLs,
// no plugins, no <base>, forms only to this server, and no framing by any
// site. The widget's script and /ws/visitor have no such restriction: they
// are embedded in customers' sites.
const pagePolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pageHeaders sets the security headers of an HTML page.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", pagePolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (s *Server) staticFiles(fsys fs.FS) echo.HandlerFunc {
	return func(c *echo.Context) error {
		name := path.Clean(strings.TrimPrefix(c.Request().URL.Path, "/static/"))
		if strings.HasPrefix(name, "..") || strings.HasPrefix(name, "/") {
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		return s.file(fsys, name)(c)
	}
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	}
	return "application/octet-stream"
}

// securityHeaders sets the headers every response carries. Their values
// are shared slices, set by key (both canonical already), not Header.Set,
// which makes a slice a header a response; net/http and echo only read
// them (Header.Clone copies).
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		h := c.Response().Header()
		h["X-Content-Type-Options"] = nosniff
		h["Referrer-Policy"] = sameOrigin
		return next(c)
	}
}

var (
	nosniff    = []string{"nosniff"}
	sameOrigin = []string{"same-origin"}
)

// live is the liveness check (/livez, and /healthz, its alias): the
// process serves HTTP. It asks nothing of the store, so a Redis outage
// does not get live processes restarted, and it stays 200 while the
// process drains.
func (s *Server) live(c *echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// readyTimeout bounds a readiness check: a store slower than this to
// answer is not ready.
const readyTimeout = 2 * time.Second

// ready is the readiness check (Config.Ready, by default
// conversation.App.Ready): 200 while this process can serve, 503 while the
// store does not answer (on a Redis Cluster: a master down, a slot
// uncovered, a stale slot map), the process drains, or it does not yet
// listen for live updates (starting: a socket opened then would be told
// to catch up instead of getting what other processes publish, an
// agent's new-chat notify among it), so a load balancer sends visitors
// elsewhere meanwhile.
func (s *Server) ready(c *echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	err := s.cfg.Ready(ctx)
	if err == nil && s.app.Draining() {
		err = conversation.ErrDraining
	}
	listening := false
	select {
	case <-s.Listening():
		listening = true
	default:
	}
	switch {
	case err == nil && listening:
		return c.String(http.StatusOK, "ok")
	case errors.Is(err, conversation.ErrDraining):
		return echo.NewHTTPError(http.StatusServiceUnavailable, "draining")
	case err == nil:
		return echo.NewHTTPError(http.StatusServiceUnavailable, "starting: not yet listening for live updates")
	}
	s.log.Warn("not ready: the store does not answer", "err", err)
	return echo.NewHTTPError(http.StatusServiceUnavailable, "store unavailable")
}

// match tells the widget which playbook's trigger applies to its page
// (conversation.WidgetMatch).
func (s *Server) match(c *echo.Context) error {
	var req protocol.WidgetMatchRequest
	if err := decodeJSON(c, &req, 16<<10); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.svc.WidgetMatch(req))
}

func decodeJSON(c *echo.Context, v any, limit int64) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, limit+1))
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "cannot read the body")
	}
	if int64(len(body)) > limit {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "body too large")
	}
	if err := jsonUnmarshal(body, v); err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "body is not valid JSON: "+jsonProblem(err))
	}
	return nil
}

func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c *echo.Context) error {
		if s.cfg.AdminToken == "" {
			return echo.NewHTTPError(http.StatusNotFound, "the admin API is off: start the server with --admin-token")
		}
		got, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.AdminToken)) != 1 {
			return echo.NewHTTPError(http.StatusUnauthorized, "missing or wrong admin token")
		}
		return next(c)
	}
}

func (s *Server) listPlaybooks(c *echo.Context) error {
	return c.JSON(http.StatusOK, s.reg.List())
}

// postPlaybook answers POST /api/playbooks (X-Playbook-File names the
// file): conversation.PlaybookUpload, which validates it and, with
// ?activate=true and no errors, writes it into the playbooks directory so
// it goes live.
func (s *Server) postPlaybook(c *echo.Context) error {
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "a playbook may be at most 1 MiB")
	}
	res, err := s.reg.Upload(c.Request().Context(), c.Request().Header.Get("X-Playbook-File"), body, c.QueryParam("activate") == "true")
	if res == nil {
		return err
	}
	status := http.StatusOK
	if err != nil {
		p := conversation.ProblemOf(err)
		if p == nil {
			return err
		}
		status = p.Status
	}
	return c.JSON(status, res)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// originAllowed reports whether a page at origin may call the widget API:
// its host matches one of AllowedOrigins (the same patterns the websocket
// checks, such as "*.example.com" or "localhost:*").
func (s *Server) originAllowed(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Host)
	for _, p := range s.cfg.AllowedOrigins {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
	}
	return false
}

// logPage is a page for the log: its path, without a query string or
// fragment, which may carry personal data (?email=...).
func logPage(page string) string {
	if i := strings.IndexAny(page, "?#"); i >= 0 {
		page = page[:i]
	}
	return truncate(page, 200)
}
