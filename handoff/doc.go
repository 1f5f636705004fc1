// Package handoff owns live chat: agents and teams, sign-in sessions and API
// tokens, presence, each handed-off conversation's status and owner, the
// team queues, routing, snoozes, notes' mentions and canned responses.
// Store holds the rules; the data lives in a storage engine behind the
// store package's interfaces (store.InboxEngine): store/redis, shared by
// every server process, or store/embedded, in the one process's data
// directory.
//
// Rules it keeps:
//   - Taking a chat is atomic: when two agents click at once, exactly one
//     gets it (one step of the engine: a Lua script on the conversation's
//     own key, or one transaction).
//   - An agent is online only while heartbeats keep coming: the engine
//     keeps the last heartbeat per team, read with a window.
//   - A resolved conversation cannot be reassigned or reopened.
//   - Agents see and act on their teams' conversations; admins on all.
//
// The package does no HTTP and no storage of its own: the server maps its
// errors (ErrTaken, ErrForbidden, ErrClosed, ...) to status codes.
package handoff
