package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// gatedEngine is an engine whose turns wait, while armed, until the test
// lets them go.
type gatedEngine struct {
	store.Engine
	armed   chan struct{} // a token: the next turn waits
	entered chan struct{} // a waiting turn arrived
	release chan struct{} // let it go
}

func (e *gatedEngine) Sessions(opts store.SessionOptions) store.SessionStore {
	return gatedSessions{SessionStore: e.Engine.Sessions(opts), e: e}
}

type gatedSessions struct {
	store.SessionStore
	e *gatedEngine
}

func (s gatedSessions) Turn(ctx context.Context, id, clientID string, step store.Step) (store.Result, error) {
	select {
	case <-s.e.armed:
		s.e.entered <- struct{}{}
		<-s.e.release
	default:
	}
	return s.SessionStore.Turn(ctx, id, clientID, step)
}

// TestDrainLetsTheRunningTurnFinish: Drain makes /readyz answer 503
// "draining" and refuses new websockets, waits for a visitor's running
// turn, sends its ack and answer, and only then closes the visitor's
// socket with CloseRestart (1012); an agent's feed is closed with 1012 too.
func TestDrainLetsTheRunningTurnFinish(t *testing.T) {
	gate := &gatedEngine{armed: make(chan struct{}, 1), entered: make(chan struct{}), release: make(chan struct{})}
	ts := startEmbedded(t, "../playbooks/bench", func(c *servertest.Config) {
		gate.Engine = c.Engine
		c.Engine = gate
	})
	feed := signIn(t, ts, addAgent(t, ts, "Sam", "sales")).feed()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a guard against a hang
	defer cancel()
	v, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer v.CloseNow()
	if err := v.Start(ctx, protocol.Start{Playbook: "qualify", Page: "/"}); err != nil {
		t.Fatal(err)
	}
	botSaid := func(text string) func(protocol.Frame) bool {
		return func(f protocol.Frame) bool {
			e, ok := f.(*protocol.EntryFrame)
			return ok && e.Entry.From == "bot" && e.Entry.Text == text
		}
	}
	if _, err := v.Until(ctx, botSaid("Hi! What brings you here?")); err != nil {
		t.Fatal(err)
	}

	// The visitor's click is a turn that waits in the store.
	gate.armed <- struct{}{}
	if err := v.Click(ctx, "m1", "Just browsing", "Just browsing"); err != nil {
		t.Fatal(err)
	}
	<-gate.entered
	drained := make(chan error, 1)
	go func() { drained <- ts.srv.Drain(ctx) }()

	// Draining: not ready, no new websockets; the turn still runs.
	deadline := time.Now().Add(30 * time.Second) // a guard against a hang
	for {
		resp, body := get(t, ts.url+"/readyz", nil)
		if resp.StatusCode == 503 && body == `{"error":"draining"}`+"\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz answers %d %q while draining", resp.StatusCode, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var de *pbclient.DialError
	if _, err := pbclient.DialVisitor(ctx, ts.url, pbclient.Options{}); !errors.As(err, &de) || de.Status != 503 {
		t.Errorf("a new visitor websocket while draining: %v, want HTTP 503", err)
	}
	select {
	case err := <-drained:
		t.Fatalf("Drain returned (%v) while a turn was running", err)
	default:
	}

	// The turn finishes: its ack and answer arrive, then the close.
	close(gate.release)
	var got []protocol.Frame
	for {
		f, err := v.Next(ctx)
		if err != nil {
			if !errors.Is(err, pbclient.ErrClosed) {
				t.Fatalf("reading: %v", err)
			}
			break
		}
		got = append(got, f)
	}
	if s := v.CloseStatus(); s != protocol.CloseRestart {
		t.Errorf("the visitor's socket closed with %d, want %d", s, protocol.CloseRestart)
	}
	acked, answered := false, false
	for _, f := range got {
		switch f := f.(type) {
		case *protocol.Ack:
			acked = acked || f.ID == "m1"
		case *protocol.EntryFrame:
			answered = answered || (f.Entry.From == "bot" && f.Entry.Text == "Enjoy! Ping us anytime.")
		}
	}
	if !acked || !answered {
		t.Errorf("before the close: ack of m1 %v, the answer %v; frames %v", acked, answered, got)
	}
	if err := <-drained; err != nil {
		t.Errorf("Drain: %v", err)
	}

	// The agent's feed closed with 1012 as well.
	for range feed.frames {
	}
	if s := feed.conn.CloseStatus(); s != protocol.CloseRestart {
		t.Errorf("the agent's feed closed with %d, want %d", s, protocol.CloseRestart)
	}
}
