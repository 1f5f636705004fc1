package server

import (
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// deps are the App's stores that handlers still reach past the
// conversation service (issue 12: they go as those handlers move into
// package conversation; server.go uses none).
type deps struct {
	store store.SessionStore
	bus   store.Bus
	inbox *handoff.Store
}

func depsOf(app *conversation.App) deps {
	return deps{store: app.Sessions(), bus: app.Bus(), inbox: app.Inbox()}
}
