package server

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/playbook-dev/playbook/conversation"
)

// Attachments: uploads as multipart/form-data (one part named "file"; the
// client message id in ?client_id=), downloads with the file's sniffed
// type, nosniff, a sandboxing CSP, and Content-Disposition attachment for
// anything that is not an image. The rules (limits, types, names, who may)
// are the service's and the access policy's.

// multipartSlack is what a multipart body may hold beyond the file: its
// boundaries and part headers.
const multipartSlack = 64 << 10

// filePolicy is the Content-Security-Policy of a downloaded file: nothing
// in it may run or load anything, even opened as a page.
const filePolicy = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"

// uploadPart returns the "file" part of the request's multipart body (its
// reader and the name the client gave). The body is cut at the size limit
// plus multipartSlack; a declared length over that is refused at once.
func (s *Server) uploadPart(c *echo.Context) (io.Reader, string, error) {
	limit := s.svc.FileLimits().MaxSize + multipartSlack
	r := c.Request()
	if r.ContentLength > limit {
		return nil, "", tooLarge(s.svc.FileLimits().MaxSize)
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", echo.NewHTTPError(http.StatusBadRequest, "send the file as multipart/form-data, in a part named \"file\"")
	}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil, "", echo.NewHTTPError(http.StatusBadRequest, "no part named \"file\" in the form")
		}
		if err != nil {
			var mb *http.MaxBytesError
			if errors.As(err, &mb) {
				return nil, "", tooLarge(s.svc.FileLimits().MaxSize)
			}
			return nil, "", echo.NewHTTPError(http.StatusBadRequest, "the multipart body is malformed")
		}
		if p.FormName() == "file" {
			return p, partName(p), nil
		}
	}
}

// partName is the file name a part gives, raw (the service makes it safe):
// multipart's FileName drops the directories, and so would hide a hostile
// name from the service's own checks; take it from the header as sent.
func partName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return p.FileName()
	}
	return params["filename"]
}

func tooLarge(max int64) error {
	return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "this file is larger than "+conversation.FormatSize(max)+", the most a file may be")
}

// uploadErr maps an upload's error: a body over the limit is 413 (the
// same words as the service's), the service's are theirs.
func (s *Server) uploadErr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return tooLarge(s.svc.FileLimits().MaxSize)
	}
	return problem(err)
}

// postFile is an agent's attachment to conversation :id (the access
// policy first: whoever may not act on it learns nothing of their body).
func (s *Server) postFile(c *echo.Context) error {
	if err := s.mayActOn(c); err != nil {
		return err
	}
	part, name, err := s.uploadPart(c)
	if err != nil {
		return err
	}
	e, err := s.svc.AttachByAgent(c.Request().Context(), agentOf(c), c.Param("id"), name, c.QueryParam("client_id"), part)
	if err != nil {
		return s.uploadErr(err)
	}
	return c.JSON(http.StatusOK, conversation.WireEntry(e))
}

// getFile sends file :file of conversation :id to an agent the access
// policy lets see the conversation.
func (s *Server) getFile(c *echo.Context) error {
	r, f, err := s.svc.OpenFile(c.Request().Context(), agentOf(c), c.Param("id"), c.Param("file"))
	if err != nil {
		return problem(err)
	}
	defer r.Close()
	return sendFile(c, r, f)
}

// postVisitorFile is a visitor's attachment: Authorization: Bearer
// <session token> (which a cross-site form cannot send), from this
// server's pages or an allowed origin.
func (s *Server) postVisitorFile(c *echo.Context) error {
	if origin := c.Request().Header.Get("Origin"); origin != "" && !s.sameOrigin(c, origin) && !s.originAllowed(origin) {
		return echo.NewHTTPError(http.StatusForbidden, "this site may not send files to the chat (--allowed-origins)")
	}
	if !s.limits.connect(c.RealIP(), s.now()) {
		return echo.NewHTTPError(http.StatusTooManyRequests, "too many requests from your address; try again in a minute")
	}
	tok, ok := strings.CutPrefix(c.Request().Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return echo.NewHTTPError(http.StatusUnauthorized, "send the conversation's token as Authorization: Bearer")
	}
	ctx := c.Request().Context()
	if _, err := s.tokens.Verify(ctx, tok, s.now()); err != nil {
		return problem(err)
	}
	part, name, err := s.uploadPart(c)
	if err != nil {
		return err
	}
	e, err := s.widgets.AttachByVisitor(ctx, tok, name, c.QueryParam("client_id"), part)
	if err != nil {
		return s.uploadErr(err)
	}
	return c.JSON(http.StatusOK, conversation.ForVisitor(e))
}

// getVisitorFile sends a file to whoever holds its signed URL
// (conversation.Widgets.OpenFile asks the access policy).
func (s *Server) getVisitorFile(c *echo.Context) error {
	r, f, err := s.widgets.OpenFile(c.Request().Context(), c.Param("conv"), c.Param("file"), c.QueryParam("exp"), c.QueryParam("sig"))
	if err != nil {
		return problem(err)
	}
	defer r.Close()
	c.Response().Header().Set("Cross-Origin-Resource-Policy", "cross-origin") // the widget shows it on the customer's site
	return sendFile(c, r, f)
}

// sendFile answers a stored file: an image inline, anything else as an
// attachment, under its safe name (ASCII fallback and RFC 5987 UTF-8).
func sendFile(c *echo.Context, r io.Reader, f conversation.File) error {
	h := c.Response().Header()
	disp := "attachment"
	if conversation.IsImage(f.Type) {
		disp = "inline"
	}
	h.Set("Content-Disposition", fmt.Sprintf(`%s; filename="%s"; filename*=UTF-8''%s`, disp, asciiName(f.Name), url.PathEscape(f.Name)))
	h.Set("Content-Security-Policy", filePolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	return c.Stream(http.StatusOK, f.Type, r)
}

// asciiName is name with every byte that is not printable ASCII, a quote
// or a backslash replaced by '_' (for the plain filename parameter).
func asciiName(name string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, name)
}

// sameOrigin reports whether origin is this server's own (the demo page,
// the inbox).
func (s *Server) sameOrigin(c *echo.Context, origin string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, c.Request().Host)
}

// visitorFileCORS lets the widget on an allowed site send files.
func (s *Server) visitorFileCORS() echo.MiddlewareFunc {
	return middleware.CORSWithConfig(middleware.CORSConfig{
		UnsafeAllowOriginFunc: func(_ *echo.Context, origin string) (string, bool, error) {
			return origin, s.originAllowed(origin), nil
		},
		AllowMethods: []string{http.MethodPost},
		AllowHeaders: []string{"Authorization"},
		MaxAge:       3600,
	})
}
