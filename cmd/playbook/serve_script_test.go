package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/bench"
	"github.com/playbook-dev/playbook/protocol"
)

// serveCmds are the testscript commands that drive real `playbook serve`
// processes: freeport, waithttp and converse.
var serveCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// freeport NAME: set $NAME to a free loopback TCP port (bench.FreePort:
	// below the ephemeral range, so no outgoing connection takes it before
	// the server binds it).
	"freeport": func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: freeport NAME")
		}
		port, err := bench.FreePort()
		ts.Check(err)
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
	// httpget [-token TOKEN] URL: GET URL (with "Authorization: Bearer
	// TOKEN") and print the status line and the body on stdout; fails
	// unless the status is 200 (! httpget: fails when it is).
	"httpget": func(ts *testscript.TestScript, neg bool, args []string) {
		token := ""
		if len(args) == 3 && args[0] == "-token" {
			token, args = args[1], args[2:]
		}
		if len(args) != 1 {
			ts.Fatalf("usage: httpget [-token TOKEN] URL")
		}
		req, err := http.NewRequest(http.MethodGet, args[0], nil)
		ts.Check(err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		ts.Check(err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		ts.Check(err)
		fmt.Fprintf(ts.Stdout(), "%s\n%s", resp.Status, body)
		if ok := resp.StatusCode == http.StatusOK; ok == neg {
			ts.Fatalf("GET %s: %s", args[0], resp.Status)
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
	conn    *client.Conn
	token   string
	last    string
	seen    map[string]bool
	entries int
}

func (v *scriptVisitor) close() {
	if v.conn != nil {
		v.conn.Close()
	}
}

func (v *scriptVisitor) send(f protocol.Frame) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v.ts.Check(v.conn.Send(ctx, f))
}

// nextEntry returns the next entry not seen before; it fails on a repeat.
func (v *scriptVisitor) nextEntry() protocol.Entry {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		f, err := v.conn.Next(ctx)
		if ctx.Err() != nil {
			v.ts.Fatalf("no entry within 10s")
		}
		if err != nil {
			v.ts.Fatalf("connection closed: %v", err)
		}
		switch f := f.(type) {
		case *protocol.Welcome:
			v.token = f.Token
		case *protocol.Error:
			v.ts.Fatalf("error frame: %v", f)
		case *protocol.EntryFrame:
			e := f.Entry
			if v.seen[e.ID] {
				v.ts.Fatalf("entry %s (%v) delivered twice", e.ID, e.Text)
			}
			v.seen[e.ID] = true
			v.last = e.ID
			v.entries++
			return e
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
		conn, err := client.DialVisitor(ctx, rest, client.Options{})
		ts.Check(err)
		v.conn = conn
	case "start":
		v.send(&protocol.Start{Playbook: rest})
	case "resume":
		v.send(&protocol.Resume{Token: v.token, After: v.last})
	case "bot":
		for {
			e := v.nextEntry()
			if e.From != "bot" {
				continue
			}
			if e.Text != rest {
				ts.Fatalf("bot said %q, want %q", e.Text, rest)
			}
			fmt.Fprintf(ts.Stdout(), "bot: %s\n", rest)
			return
		}
	case "event":
		for {
			if e := v.nextEntry(); e.Kind == rest {
				fmt.Fprintf(ts.Stdout(), "event: %s\n", rest)
				return
			}
		}
	case "say":
		id, text, _ := strings.Cut(rest, " ")
		v.send(&protocol.Message{ID: id, Text: text})
		fmt.Fprintf(ts.Stdout(), "visitor: %s\n", text)
	case "count":
		if fmt.Sprint(v.entries) != rest {
			ts.Fatalf("saw %d entries, want %s", v.entries, rest)
		}
	default:
		ts.Fatalf("converse: unknown line %q", verb)
	}
}
