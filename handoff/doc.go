// Package handoff owns live chat: agents and teams, sign-in sessions and API
// tokens, presence, each handed-off conversation's status and owner, the
// team queues, routing, snoozes, notes' mentions and canned responses. All
// of it lives in Redis behind Store, so every server process sees the same
// inbox.
//
// Rules it keeps:
//   - Taking a chat is atomic: when two agents click at once, exactly one
//     gets it (a Lua script on the conversation's own key).
//   - An agent is online only while heartbeats keep coming: presence is a
//     sorted set of last-heartbeat times per team, read with a window.
//   - A resolved conversation cannot be reassigned or reopened.
//   - Agents see and act on their teams' conversations; admins on all.
//
// The package does no HTTP: the server maps its errors (ErrTaken,
// ErrForbidden, ErrClosed, ...) to status codes.
package handoff
