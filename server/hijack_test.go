package server

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/playbook-dev/playbook/internal/race"
)

// hijackable is a ResponseWriter whose Hijack hands out conn with what a
// client sent after its request already in the reader (early).
type hijackable struct {
	http.ResponseWriter
	conn net.Conn
	brw  *bufio.ReadWriter
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.conn, h.brw, nil }

func newHijackable(conn net.Conn, early string) *hijackable {
	r := bufio.NewReader(io.MultiReader(strings.NewReader(early), conn))
	if early != "" {
		_, _ = r.Peek(len(early)) // buffered, as net/http's reader holds it
	}
	return &hijackable{conn: conn, brw: bufio.NewReadWriter(r, bufio.NewWriter(io.Discard))}
}

// The bytes a client sent right after its upgrade request, which net/http
// had buffered already, are read first, then the connection's.
func TestHijackKeepsWhatTheClientSentEarly(t *testing.T) {
	for _, early := range []string{"", "early frame|"} {
		client, srv := net.Pipe()
		cw := &corkingWriter{ResponseWriter: newHijackable(srv, early)}
		_, brw, err := cw.Hijack()
		if err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = client.Write([]byte("later")); client.Close() }()
		got, _ := io.ReadAll(brw.Reader)
		if string(got) != early+"later" {
			t.Fatalf("read %q, want %q", got, early+"later")
		}
		srv.Close()
	}
}

// TestHijackAllocations: a visitor's upgrade, one a conversation, makes
// its connection's small buffers and nothing else: with nothing buffered
// early (the usual case) no reader is put in front of the connection
// (docs/benchmarks.md, "serve's start, the seventh round").
func TestHijackAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	client, srv := net.Pipe()
	defer client.Close()
	h := newHijackable(srv, "")
	n := testing.AllocsPerRun(100, func() {
		cw := corkingWriter{ResponseWriter: h}
		if _, _, err := cw.Hijack(); err != nil {
			t.Fatal(err)
		}
	})
	// The corkConn, the bufio.Writer and its 256 bytes, the bufio.Reader
	// and its 512 bytes, the ReadWriter.
	if n > 6 {
		t.Fatalf("%v allocations a hijack, want at most 6", n)
	}
}
