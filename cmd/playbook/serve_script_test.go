package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/rogpeppe/go-internal/testscript"
)

// serveCmds are the testscript commands that drive real `playbook serve`
// processes: freeport, waithttp and converse.
var serveCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// freeport NAME: set $NAME to a free loopback TCP port.
	"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: freeport NAME")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		ts.Check(err)
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ts.Setenv(args[0], fmt.Sprint(port))
	},
	// waithttp URL: wait up to 20 s until GET URL answers 200.
	"waithttp": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: waithttp URL")
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get(args[0])
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return
				}
			}
			if time.Now().After(deadline) {
				ts.Fatalf("%s did not answer 200 within 20s: %v", args[0], err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	},
	// converse FILE: play a visitor's script against running servers. Lines:
	//   connect URL            open a websocket to URL (closing the previous one)
	//   start PLAYBOOK         start a conversation
	//   resume                 resume it with the token and the last entry id seen
	//   bot TEXT               the next bot message must be TEXT
	//   event KIND             read entries up to the next event of KIND (end, handoff)
	//   say ID TEXT            send a message with client id ID
	//   count N                the conversation shown so far has exactly N entries, none twice
	"converse": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: converse FILE")
		}
		v := &scriptVisitor{ts: ts, seen: map[string]bool{}}
		defer v.close()
		sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
		for sc.Scan() {
			line := strings.TrimSpace(os.Expand(sc.Text(), ts.Getenv))
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			verb, rest, _ := strings.Cut(line, " ")
			v.do(verb, rest)
		}
	},
}

type scriptVisitor struct {
	ts      *testscript.TestScript
	ws      *websocket.Conn
	frames  chan map[string]any
	token   string
	last    string
	seen    map[string]bool
	entries int
	pending []map[string]any
}

func (v *scriptVisitor) close() {
	if v.ws != nil {
		v.ws.Close(websocket.StatusNormalClosure, "")
	}
}

func (v *scriptVisitor) send(f map[string]any) {
	b, _ := json.Marshal(f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v.ts.Check(v.ws.Write(ctx, websocket.MessageText, b))
}

// nextEntry returns the next entry not seen before; it fails on a repeat.
func (v *scriptVisitor) nextEntry() map[string]any {
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-v.frames:
			if !ok {
				v.ts.Fatalf("connection closed")
			}
			switch f["type"] {
			case "welcome":
				v.token = f["token"].(string)
			case "error":
				v.ts.Fatalf("error frame: %v", f)
			case "entry":
				e := f["entry"].(map[string]any)
				id := e["id"].(string)
				if v.seen[id] {
					v.ts.Fatalf("entry %s (%v) delivered twice", id, e["text"])
				}
				v.seen[id] = true
				v.last = id
				v.entries++
				return e
			}
		case <-timeout:
			v.ts.Fatalf("no entry within 10s")
		}
	}
}

func (v *scriptVisitor) do(verb, rest string) {
	ts := v.ts
	switch verb {
	case "connect":
		v.close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		url := rest
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws/visitor", &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {url}}})
		ts.Check(err)
		v.ws = ws
		v.frames = make(chan map[string]any, 100)
		go func(ws *websocket.Conn, out chan map[string]any) {
			defer close(out)
			for {
				_, b, err := ws.Read(context.Background())
				if err != nil {
					return
				}
				var f map[string]any
				if json.Unmarshal(b, &f) == nil {
					out <- f
				}
			}
		}(ws, v.frames)
	case "start":
		v.send(map[string]any{"type": "start", "playbook": rest})
	case "resume":
		v.send(map[string]any{"type": "resume", "token": v.token, "after": v.last})
	case "bot":
		for {
			e := v.nextEntry()
			if e["from"] != "bot" {
				continue
			}
			if e["text"] != rest {
				ts.Fatalf("bot said %q, want %q", e["text"], rest)
			}
			fmt.Fprintf(ts.Stdout(), "bot: %s\n", rest)
			return
		}
	case "event":
		for {
			if e := v.nextEntry(); e["kind"] == rest {
				fmt.Fprintf(ts.Stdout(), "event: %s\n", rest)
				return
			}
		}
	case "say":
		id, text, _ := strings.Cut(rest, " ")
		v.send(map[string]any{"type": "message", "id": id, "text": text})
		fmt.Fprintf(ts.Stdout(), "visitor: %s\n", text)
	case "count":
		if fmt.Sprint(v.entries) != rest {
			ts.Fatalf("saw %d entries, want %s", v.entries, rest)
		}
	default:
		ts.Fatalf("converse: unknown line %q", verb)
	}
}
