package bench

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The frames of a correct greeting (the start turn of the reference
// conversation), as serve writes them.
const (
	goodWelcome = `{"type":"welcome","token":"t","conversation":"c1","playbook":"qualify","bot":{"name":"Bot"},"locale":"en","status":"waiting","mail":false}`
	goodHello   = `{"type":"entry","entry":{"id":"1-0","from":"bot","kind":"message","text":"Hi! What brings you here?","buttons":[{"label":"Talk to sales","value":"sales"},{"label":"Just browsing","value":"browse"}],"input":"choice","at":"2026-12-05T01:00:00Z"}}`
	goodStatus  = `{"type":"status","status":"waiting"}`
)

// greeter serves /ws/visitor: it reads the start frame and calls reply.
func greeter(t *testing.T, reply func(ctx context.Context, c *websocket.Conn)) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if _, _, err := c.Read(r.Context()); err != nil {
			return
		}
		reply(r.Context(), c)
		// Answer the client's close handshake.
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(hs.Close)
	return hs.URL
}

func write(ctx context.Context, c *websocket.Conn, frames ...string) {
	for _, f := range frames {
		if c.Write(ctx, websocket.MessageText, []byte(f)) != nil {
			return
		}
	}
}

// greet runs the start turn of conversation 0 against url, as Run does.
func greet(t *testing.T, ctx context.Context, url string, timeout time.Duration) (turnResult, error) {
	t.Helper()
	d, err := newDialer([]string{url}, 1)
	if err != nil {
		t.Fatal(err)
	}
	sc := ScriptFor(0)
	sc.Turns, sc.Outcome = sc.Turns[:1], "" // the greeting only
	var res turnResult
	turns := 0
	err = runOne(ctx, d, 0, sc, Options{Playbook: "qualify", TurnTimeout: timeout}, func(r turnResult) { res = r; turns++ })
	if err == nil && turns != 1 {
		t.Errorf("%d turns reported, want 1", turns)
	}
	return res, err
}

// TestVisitorConnChecksEveryReply: the load's own websocket (read on the
// visitor's goroutine) checks the greeting's frames as the reference
// conversation wants them, and tells what differs.
func TestVisitorConnChecksEveryReply(t *testing.T) {
	long := `{"type":"typing","from":"bot","on":true,"pad":"` + strings.Repeat("x", 10000) + `"}`
	cases := []struct {
		name   string
		frames []string
		binary bool
		want   string // "" for no error
	}{
		{name: "the greeting", frames: []string{goodWelcome, goodHello, goodStatus}},
		{name: "a frame larger than the buffer first", frames: []string{long, goodWelcome, long, goodHello, goodStatus}},
		{name: "other words", frames: []string{goodWelcome, strings.Replace(goodHello, "Hi!", "Hello!", 1), goodStatus},
			want: `bot said "Hello! What brings you here?", want "Hi! What brings you here?"`},
		{name: "other buttons", frames: []string{goodWelcome, strings.Replace(goodHello, "Just browsing", "Later", 1), goodStatus},
			want: `buttons ["Talk to sales" "Later"]`},
		{name: "no welcome", frames: []string{goodHello, goodStatus}, want: "no welcome frame"},
		{name: "status first", frames: []string{goodWelcome, goodStatus}, want: `status "waiting" before the bot's answer`},
		{name: "another status", frames: []string{goodWelcome, goodHello, `{"type":"status","status":"ended"}`}, want: `status "ended", want "waiting"`},
		{name: "an error frame", frames: []string{goodWelcome, `{"type":"error","code":"busy","message":"try later"}`}, want: "error busy: try later"},
		{name: "not JSON", frames: []string{goodWelcome, `{"type":"entry",`}, want: "not of the protocol"},
		{name: "a binary frame", frames: []string{goodWelcome}, binary: true, want: "a binary frame"},
		{name: "closed mid-turn", frames: []string{goodWelcome}, want: "connection closed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := greeter(t, func(ctx context.Context, c *websocket.Conn) {
				write(ctx, c, tc.frames...)
				switch {
				case tc.binary:
					c.Write(ctx, websocket.MessageBinary, []byte(goodHello))
				case tc.name == "closed mid-turn":
					c.Close(websocket.StatusGoingAway, "")
				}
			})
			res, err := greet(t, context.Background(), url, 10*time.Second)
			switch {
			case tc.want == "" && err != nil:
				t.Fatal(err)
			case tc.want == "" && (res.latency <= 0 || res.conversation != "c1"):
				t.Errorf("latency %v, conversation %q; want > 0 and c1", res.latency, res.conversation)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
			var ce *checkError
			if err != nil && !errors.As(err, &ce) {
				t.Errorf("error %v is not a conversation's error", err)
			}
		})
	}
}

// TestVisitorConnTurnTimeout: a turn whose answer never completes is an
// error once its timeout passes, and a run's cancellation ends a waiting
// visitor at once.
func TestVisitorConnTurnTimeout(t *testing.T) {
	url := greeter(t, func(ctx context.Context, c *websocket.Conn) {
		write(ctx, c, goodWelcome)
		<-ctx.Done()
	})
	if _, err := greet(t, context.Background(), url, 200*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no complete answer within 200ms") {
		t.Errorf("error %v, want no complete answer within 200ms", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	arrived := make(chan struct{})
	url = greeter(t, func(rctx context.Context, c *websocket.Conn) {
		write(rctx, c, goodWelcome)
		close(arrived)
		<-rctx.Done()
	})
	go func() { <-arrived; cancel() }()
	if _, err := greet(t, ctx, url, time.Minute); !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want the run's cancellation", err)
	}
}

// TestUpgradeKeepsWhatCameWithTheResponse: the bench's own upgrade
// (upgradeTransport) hands the websocket the bytes the server sent right
// after its 101 response, in the same write, and reports a refused
// upgrade with its HTTP status.
func TestUpgradeKeepsWhatCameWithTheResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				if conns.Add(1) > 1 || req.Header.Get("Origin") == "" { // the second is refused
					io.WriteString(c, "HTTP/1.1 429 Too Many Requests\r\nContent-Length: 4\r\n\r\nbusy")
					return
				}
				h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
				resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
					base64.StdEncoding.EncodeToString(h[:]) + "\r\n\r\n"
				frame := append([]byte{0x81, byte(len(goodStatus))}, goodStatus...)
				c.Write(append([]byte(resp), frame...))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	d, err := newDialer([]string{"http://" + ln.Addr().String()}, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := d.dialVisitor(ctx, ctx, 0, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	r, err := c.next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Raw) != goodStatus {
		t.Errorf("first frame %s, want %s", r.Raw, goodStatus)
	}

	_, err = d.dialVisitor(ctx, ctx, 0, 10*time.Second)
	if err == nil || !strings.Contains(err.Error(), "HTTP 429") {
		t.Errorf("error %v, want HTTP 429", err)
	}
}
