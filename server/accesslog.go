package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"
)

// requestIDHeader carries a request's id, in and out.
const requestIDHeader = echo.HeaderXRequestID

// accessLog is the access log middleware (Config.AccessLog): one line per
// request, "http request", with its id (X-Request-Id: the caller's when it
// is a plain token of at most 64 characters, else a new one; answered in
// the response either way), the method, the route's pattern (such as
// /api/conversations/:id: never the raw path, nor the query string, which
// may carry an email or a token), the status, the duration and the bytes
// written. The client address only with Config.LogIPs. A websocket is one
// line: a visitor's once accepted (status 101), written by its connection
// when it has handled the first frame (with the conversation's fields
// when that frame starts one: visitorConn.logStarted) or when it ends
// without one; an agent's feed when it ends. Without Config.AccessLog it
// only sets the request id.
func (s *Server) accessLog() echo.MiddlewareFunc {
	logged := middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:     true, // the status the error handler answers
		LogLatency:      true,
		LogMethod:       true,
		LogRoutePath:    true,
		LogStatus:       true,
		LogResponseSize: true,
		LogRemoteIP:     s.cfg.LogIPs,
		LogValuesFunc: func(c *echo.Context, v middleware.RequestLoggerValues) error {
			if c.Get(loggedByConn) != nil {
				return nil // a visitor's websocket: its connection logs it
			}
			route := v.RoutePath
			if route == "" {
				route = "-" // no route matched: the path is not logged
			}
			var buf [7]slog.Attr
			attrs := accessAttrs(buf[:0], c.Response().Header().Get(requestIDHeader), v.Method, route, v.Status,
				v.Latency, max(v.ResponseSize, 0), s.cfg.LogIPs, v.RemoteIP)
			level := slog.LevelInfo
			if v.Status >= http.StatusInternalServerError {
				level = slog.LevelWarn
			}
			logLine(s.log, level, "http request", attrs...)
			return nil
		},
	})
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		inner := next
		if s.cfg.AccessLog {
			inner = logged(next)
		}
		return func(c *echo.Context) error {
			id := c.Request().Header.Get(requestIDHeader)
			if !validRequestID(id) {
				id = newRequestID()
				c.Request().Header.Set(requestIDHeader, id)
			}
			c.Response().Header().Set(requestIDHeader, id)
			return inner(c)
		}
	}
}

// validRequestID reports whether a caller's X-Request-Id may be kept: 1 to
// 64 letters, digits and "-_.:" (a UUID, a load balancer's trace id), so
// that nothing else (an email, spaces, line breaks) reaches the log.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == ':':
		default:
			return false
		}
	}
	return true
}

// newRequestID is 16 random hex digits.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// accessAttrs appends an access line's attributes to to: the request id,
// method, route, status, duration and bytes written, and the client's
// address when logIPs.
func accessAttrs(to []slog.Attr, id, method, route string, status int, d time.Duration, bytes int64, logIPs bool, ip string) []slog.Attr {
	to = append(to, slog.String("id", id), slog.String("method", method), slog.String("route", route),
		slog.Int("status", status), slog.Duration("duration", d), slog.Int64("bytes", bytes))
	if logIPs {
		to = append(to, slog.String("ip", ip))
	}
	return to
}

// logLine writes a line as slog's Logger.LogAttrs does, without the
// caller's program counter: LogAttrs walks the stack (runtime.Callers) for
// every line to find its source, which serve's handlers do not print. The
// lines every visitor and request write (a start's, the access log's) go
// through it; a handler with AddSource prints no source for them.
func logLine(l *slog.Logger, level slog.Level, msg string, attrs ...slog.Attr) {
	ctx := context.Background()
	h := l.Handler()
	if !h.Enabled(ctx, level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.Handle(ctx, r)
}
