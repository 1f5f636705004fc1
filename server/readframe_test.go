package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/playbook-dev/playbook/internal/race"
)

// wsPair returns both ends of a websocket over loopback: the server's
// (as a visitorConn) and the client's.
func wsPair(t *testing.T) (*visitorConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *websocket.Conn, 1)
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		ws.SetReadLimit(maxReadLimit)
		conns <- ws
		<-done
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(done) })
	client, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.CloseNow() })
	return &visitorConn{ws: <-conns}, client
}

// TestReadFrameAllocations: a visitor's frame is read into a pooled
// buffer, given back once the frame is handled, not into a new one a
// frame (coder/websocket's Read: io.ReadAll's 512 bytes and more); the
// frames come as sent, one after another.
func TestReadFrameAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	v, client := wsPair(t)
	ctx := context.Background()
	frames := []string{`{"type":"message","id":"m1","text":"hello"}`, `{"type":"button","id":"m2","value":"` + strings.Repeat("x", 700) + `"}`, `{}`}
	for i, f := range frames {
		if err := client.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatal(err)
		}
		text, buf, err := v.readFrame(ctx)
		if err != nil || !text || buf.String() != frames[i] {
			t.Fatalf("frame %d: text %v, %q, %v; want %q", i, text, buf.String(), err, frames[i])
		}
		putFrameBuf(buf)
	}
	if err := client.Write(ctx, websocket.MessageBinary, []byte("bin")); err != nil {
		t.Fatal(err)
	}
	if text, buf, err := v.readFrame(ctx); err != nil || text || buf.String() != "bin" {
		t.Fatalf("a binary frame: text %v, %v", text, err)
	} else {
		putFrameBuf(buf)
	}
	msg := []byte(frames[0])
	read := testing.AllocsPerRun(100, func() {
		_ = client.Write(ctx, websocket.MessageText, msg)
		if _, _, err := v.ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
	})
	pooled := testing.AllocsPerRun(100, func() {
		_ = client.Write(ctx, websocket.MessageText, msg)
		_, buf, err := v.readFrame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		putFrameBuf(buf)
	})
	if pooled > read-1 {
		t.Fatalf("%v allocations to read a frame, %v with coder/websocket's Read: want at least one fewer", pooled, read)
	}
}
