package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
)

// upgradeTransport is the bench's http.RoundTripper for websocket
// upgrades (the only requests its dialer makes): each request on a new TCP
// connection from dial, written and its response read on the caller's
// goroutine, and the connection handed to the websocket as the response's
// body. net/http's Transport sends the same request (this one adds the
// Accept-Encoding it adds) but spends a dial goroutine and a reader and a
// writer goroutine on every connection, which the load generator paid per
// conversation.
type upgradeTransport func(ctx context.Context, network, addr string) (net.Conn, error)

func (dial upgradeTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "http" || req.Body != nil && req.Body != http.NoBody {
		return nil, errors.New("bench: only websocket upgrades over http://")
	}
	ctx := req.Context()
	conn, err := dial(ctx, "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	br := bufio.NewReader(conn)
	err = req.Write(conn)
	var resp *http.Response
	if err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if !stop() {
		conn.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		conn.Close()
		resp.Body = io.NopCloser(bytes.NewReader(b))
		return resp, nil
	}
	resp.Body = &upgraded{Conn: conn, br: br}
	return resp, nil
}

// upgraded is an upgraded connection: what the reader of the response
// read past it first, then the connection itself.
type upgraded struct {
	net.Conn
	br *bufio.Reader // nil once drained
}

func (u *upgraded) Read(p []byte) (int, error) {
	if u.br != nil {
		if u.br.Buffered() > 0 {
			return u.br.Read(p)
		}
		u.br = nil
	}
	return u.Conn.Read(p)
}
