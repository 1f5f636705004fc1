package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/protocol"
)

// InProcessOptions configure an idle run on in-memory connections
// (IdleInProcess): the server's handler runs in this process on Listener.
type InProcessOptions struct {
	Listener    *MemListener
	Playbook    string // default "qualify"
	Connections int
	Parallel    int           // handshakes at once; default 100
	Settle      time.Duration // default 3s
	Hold        time.Duration // default 10s
	TurnTimeout time.Duration // default 10s
	// Profile, when set, is the file a heap profile is written to at the
	// end, after a collection, with every connection still open.
	Profile string
}

// MemSample is this process's memory: RSS from /proc, Go's view from
// runtime.ReadMemStats (no collection forced).
type MemSample struct {
	RSS        int64 `json:"rss_bytes"`
	PeakRSS    int64 `json:"peak_rss_bytes"`
	HeapInuse  int64 `json:"heap_inuse_bytes"`
	HeapAlloc  int64 `json:"heap_alloc_bytes"`
	StackInuse int64 `json:"stack_inuse_bytes"`
	Sys        int64 `json:"sys_bytes"`
	Goroutines int   `json:"goroutines"`
}

// SampleMem samples this process.
func SampleMem() MemSample {
	var s MemSample
	s.RSS, s.PeakRSS, _ = ProcRSS(os.Getpid())
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	s.HeapInuse, s.HeapAlloc, s.StackInuse, s.Sys = int64(m.HeapInuse), int64(m.HeapAlloc), int64(m.StackInuse), int64(m.Sys)
	s.Goroutines = runtime.NumGoroutine()
	return s
}

// InProcessResult is what an in-process idle run measured.
type InProcessResult struct {
	Connections  int           `json:"connections"` // open, greeted and checked
	Errors       int           `json:"errors"`
	ErrorSamples []string      `json:"error_samples,omitempty"`
	OpenTime     time.Duration `json:"open_ns"`
	Start        Latencies     `json:"start_latency"`
	Before       MemSample     `json:"before"`    // the server started, no connection
	Connected    MemSample     `json:"connected"` // all open, after Settle
	After        MemSample     `json:"after"`     // after Hold
	// LiveHeap is the heap after a collection forced at the very end
	// (HeapAlloc), with every connection still open.
	LiveHeap int64         `json:"live_heap_after_gc_bytes"`
	Hold     time.Duration `json:"hold_ns"`
	// Pings answered by the idle clients, connections the server closed
	// during the run, data frames the idle clients received.
	Pings  int64 `json:"pings_answered"`
	Closed int64 `json:"closed_by_server"`
	Frames int64 `json:"frames_while_idle"`
}

// IdleInProcess opens opts.Connections idle widgets on opts.Listener, each
// with a raw handshake (the HTTP upgrade, the start frame, the greeting
// checked as Idle checks it), after which the connection has no goroutine
// of its own: it is passive (MemPipe.Passive), answering the server's
// pings as they arrive. It samples this process's memory before, with all
// connected, and after the hold; then closes them all.
func IdleInProcess(ctx context.Context, opts InProcessOptions) (InProcessResult, error) {
	idleDefaults(&opts.Playbook, &opts.Parallel, &opts.Settle, &opts.Hold, &opts.TurnTimeout)
	if opts.Connections <= 0 || opts.Listener == nil {
		return InProcessResult{}, errors.New("bench: no connections to open")
	}
	select {
	case <-opts.Listener.Ready():
	case <-ctx.Done():
		return InProcessResult{}, ctx.Err()
	}
	runtime.GC()
	res := InProcessResult{Before: SampleMem(), Hold: opts.Hold}
	pipes := make([]*MemPipe, 0, opts.Connections)
	lats := make([]time.Duration, 0, opts.Connections)
	var (
		mu  sync.Mutex
		sem = make(chan struct{}, opts.Parallel)
		wg  sync.WaitGroup
	)
	defer func() {
		for _, p := range pipes {
			p.Close()
		}
	}()
	t0 := time.Now()
	for n := 0; n < opts.Connections && ctx.Err() == nil; n++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			p, err := opts.Listener.Dial(time.Now().Add(opts.TurnTimeout))
			var lat time.Duration
			if err == nil {
				lat, err = rawWidget(ctx, p, n, opts.Playbook, opts.TurnTimeout)
				if err != nil {
					p.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if ctx.Err() == nil {
					res.Errors++
					if len(res.ErrorSamples) < maxErrorSamples {
						res.ErrorSamples = append(res.ErrorSamples, err.Error())
					}
				}
				return
			}
			pipes = append(pipes, p)
			lats = append(lats, lat)
		}()
	}
	wg.Wait()
	res.OpenTime = time.Since(t0)
	res.Connections = len(pipes)
	res.Start = percentiles(lats)
	lats = nil
	if err := sleep(ctx, opts.Settle); err != nil {
		return res, err
	}
	res.Connected = SampleMem()
	if err := sleep(ctx, opts.Hold); err != nil {
		return res, err
	}
	res.After = SampleMem()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	res.LiveHeap = int64(m.HeapAlloc)
	if opts.Profile != "" {
		if err := writeHeapProfile(opts.Profile); err != nil {
			return res, err
		}
	}
	st := &opts.Listener.Stats
	res.Pings, res.Closed, res.Frames = st.Pings.Load(), st.Closed.Load(), st.Frames.Load()
	runtime.KeepAlive(pipes)
	return res, nil
}

func writeHeapProfile(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// rawWidget opens widget n over p as a browser's widget does, by hand:
// the HTTP upgrade, the start frame, then the greeting read and checked
// against the reference conversation (ScriptFor(n), its first turn). It
// then makes p passive and returns the greeting's latency.
func rawWidget(ctx context.Context, p *MemPipe, n int, playbook string, timeout time.Duration) (time.Duration, error) {
	fail := func(format string, args ...any) (time.Duration, error) {
		return 0, &checkError{n, 1, fmt.Sprintf(format, args...)}
	}
	p.SetReadDeadline(time.Now().Add(timeout))
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	const host = "127.0.0.1:8080"
	req := "GET /ws/visitor HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\nOrigin: http://" + host + "\r\nUser-Agent: playbook-bench\r\n\r\n"
	if _, err := io.WriteString(p, req); err != nil {
		return fail("connecting: %v", err)
	}
	br := bufio.NewReaderSize(p, 1024)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return fail("connecting: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fail("connecting: HTTP %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != acceptKey(key) {
		return fail("connecting: Sec-WebSocket-Accept %q, want %q", got, acceptKey(key))
	}
	start, err := protocol.Encode(startFrame(playbook, n))
	if err != nil {
		return 0, err
	}
	sent := time.Now()
	if _, err := p.Write(appendClientFrame(nil, opText, start)); err != nil {
		return fail("sending the start frame: %v", err)
	}
	next := func(context.Context) (client.Received, error) {
		for {
			op, payload, err := readFrame(br)
			if err != nil {
				return client.Received{}, err
			}
			switch op {
			case opText:
				f, err := protocol.DecodeServer(payload)
				if err != nil {
					return client.Received{}, fmt.Errorf("%w: %w (%.200q)", client.ErrBadFrame, err, payload)
				}
				return client.Received{Frame: f, Raw: payload}, nil
			case opPing:
				if _, err := p.Write(appendClientFrame(nil, opPong, payload)); err != nil {
					return client.Received{}, err
				}
			case opPong:
			case opClose:
				return client.Received{}, fmt.Errorf("%w: the server closed the connection", client.ErrClosed)
			default:
				return client.Received{}, fmt.Errorf("%w: a frame of opcode %d", client.ErrBadFrame, op)
			}
		}
	}
	sc := ScriptFor(n)
	sc.Turns, sc.Outcome = sc.Turns[:1], ""
	r, _, err := awaitTurn(ctx, next, sc, 0, sent)
	if err != nil {
		var ce *checkError
		if errors.As(err, &ce) {
			return 0, err
		}
		return fail("%v", err)
	}
	early, _ := br.Peek(br.Buffered())
	p.SetReadDeadline(time.Time{})
	p.Passive(early)
	return r.latency, nil
}

// readFrame reads one whole, unmasked frame (a server's) from br.
func readFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0x80 == 0 {
		return 0, nil, errors.New("a fragmented frame")
	}
	if h[1]&0x80 != 0 {
		return 0, nil, errors.New("a masked frame from the server")
	}
	size := uint64(h[1] & 0x7F)
	switch size {
	case 126, 127:
		ext := make([]byte, map[uint64]int{126: 2, 127: 8}[size])
		if _, err := io.ReadFull(br, ext); err != nil {
			return 0, nil, err
		}
		size = 0
		for _, c := range ext {
			size = size<<8 | uint64(c)
		}
	}
	if size > protocol.MaxReadLimit*4 {
		return 0, nil, fmt.Errorf("a frame of %d bytes", size)
	}
	payload = make([]byte, size)
	if _, err := io.ReadFull(br, payload); err != nil {
		return 0, nil, err
	}
	return h[0] & 0x0F, payload, nil
}

// acceptKey is the Sec-WebSocket-Accept for key (RFC 6455 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// HoldHandler is the control of an in-process idle run: it does the least
// that lets IdleInProcess's clients pass, and keeps nothing. It upgrades
// /ws/visitor by hand (hijacked: no websocket library, no goroutine),
// reads the start frame, writes the greeting the reference conversation
// expects (a welcome, the bot's first message, the status) and returns.
// What a run on it costs is the clients' own share (their pipes, and what
// net/http and the bench leave), to subtract from a run on serve.
func HoldHandler() http.Handler {
	var greeting []byte
	for _, f := range []protocol.Frame{
		&protocol.Welcome{Token: "control", Conversation: "control", Playbook: "qualify", Locale: "en", Status: "waiting"},
		&protocol.EntryFrame{Entry: protocol.Entry{ID: "1-0", From: "bot", Kind: "message", Text: textHello,
			Buttons: []protocol.Button{{Label: "Talk to sales", Value: "sales"}, {Label: "Just browsing", Value: "browsing"}}}},
		&protocol.Status{Status: "waiting"},
	} {
		b, err := protocol.Encode(f)
		if err != nil {
			panic(err) // fixed frames
		}
		greeting = append(greeting, 0x80|opText)
		switch n := len(b); {
		case n < 126:
			greeting = append(greeting, byte(n))
		default:
			greeting = append(greeting, 126, byte(n>>8), byte(n))
		}
		greeting = append(greeting, b...)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws/visitor" || !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "not a websocket upgrade", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		_, _ = io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
			acceptKey(r.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		var b []byte
		for {
			if op, _, _, ok := parseFrame(b); ok {
				if op != opText {
					conn.Close()
					return
				}
				break
			}
			c, err := brw.ReadByte()
			if err != nil {
				conn.Close()
				return
			}
			b = append(b, c)
		}
		_ = conn.SetReadDeadline(time.Time{})
		_, _ = conn.Write(greeting)
	})
}
