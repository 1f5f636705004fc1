// Package servertest builds a server and the application behind it in one
// call, for tests: the options of both in one struct, so that a test's
// modifiers can set either.
package servertest

import (
	"errors"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/store"
)

// Config is what a test server is built from. Logger is both structs';
// set Options.Logger (Config.Logger defaults to it).
type Config struct {
	// Engine is the storage engine; required.
	Engine store.Engine
	// Options are the App's (playbooks, clock, inbox, CRM, ...).
	conversation.Options
	// Config is the transport's (secret, origins, mail, limits, ...);
	// its App is set by New.
	server.Config
}

// New builds the App on cfg.Engine with cfg.Options, and the server on
// it.
func New(cfg Config) (*server.Server, error) {
	if cfg.Engine == nil {
		return nil, errors.New("servertest: no engine")
	}
	app, err := conversation.NewApp(cfg.Engine, cfg.Options)
	if err != nil {
		return nil, err
	}
	sc := cfg.Config
	sc.App = app
	if sc.Logger == nil {
		sc.Logger = cfg.Options.Logger
	}
	return server.New(sc)
}

// AwaitListening waits until srv, whose Run the test started, listens for
// live updates (server.Server.Listening). A test that opens a socket and
// then waits for a live event (an agent's new-chat notify) waits for it
// first: a socket opened before gets a resync in place of the events
// published until then, which on a loaded machine can be the whole set-up
// (a visitor's walk to a handoff included). Only a hang fails it.
func AwaitListening(t testing.TB, srv *server.Server) {
	t.Helper()
	select {
	case <-srv.Listening():
	case <-time.After(30 * time.Second): // only a guard against a hang
		t.Fatal("the server did not listen for live updates within 30s")
	}
}
