package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/playbook-dev/playbook/internal/servertest"
)

// TestVisitorUpgradeCarriesOnlyTheHandshake (issue 13, twelfth round): a
// visitor's 101 Switching Protocols carries the websocket handshake's
// headers and Date, as the reference server's does, and nothing a
// protocol switch does not use: no X-Content-Type-Options (no body is
// sniffed), no Referrer-Policy (no document follows), no X-Request-Id
// (the browser's WebSocket API shows a script no header of it). Every
// visitor's widget parsed the three on every conversation. The request id
// is still the access line's; a refused upgrade is an ordinary answer and
// keeps all three.
func TestVisitorUpgradeCarriesOnlyTheHandshake(t *testing.T) {
	ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) { c.Config.AccessLog = true })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.url, "http")+"/ws/visitor", &websocket.DialOptions{
		HTTPHeader: http.Header{"X-Request-Id": {"req-ws-42"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	var names []string
	for k := range resp.Header {
		names = append(names, k)
	}
	slices.Sort(names)
	if want := []string{"Connection", "Date", "Sec-Websocket-Accept", "Upgrade"}; !slices.Equal(names, want) {
		t.Errorf("the 101's headers: %v, want %v", names, want)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"start","playbook":"qualify","locale":"en"}`)); err != nil {
		t.Fatal(err)
	}
	if err := ws.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	for { // the pong: the start's frame is handled, its line written
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"type":"pong"`) {
			break
		}
	}
	if !strings.Contains(ts.log.String(), `msg="http request" id=req-ws-42 method=GET route=/ws/visitor status=101`) {
		t.Errorf("no access line with the request id in\n%s", ts.log.String())
	}

	// A refused upgrade (another site's page) is an answer like any other.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.url+"/ws/visitor", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Origin", "https://elsewhere.example")
	refused, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	refused.Body.Close()
	if refused.StatusCode != http.StatusForbidden || refused.Header.Get("X-Content-Type-Options") != "nosniff" ||
		refused.Header.Get("Referrer-Policy") != "same-origin" || refused.Header.Get("X-Request-Id") == "" {
		t.Errorf("a refused upgrade: %d, headers %v; want 403 with nosniff, same-origin and a request id", refused.StatusCode, refused.Header)
	}
}
