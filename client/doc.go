// Package client is a Go client of the Playbook protocol (docs/protocol.md):
// the visitor websocket, the agent live feed and the inbox API. The bench,
// the tests and users' own tools use it; its frames are the types of
// package protocol.
//
// A Conn is one websocket. DialVisitor opens /ws/visitor: send Start (or
// Resume with a token and the last entry id you have), then messages and
// button clicks, each with a client message id (a resend with the same id
// is answered, never run twice). Conn remembers the conversation's token
// and the newest entry id received, so Reconnect resumes where it left off.
//
// An Inbox is a signed-in agent (SignIn with email and password, or
// WithToken with an API token): its methods are the REST actions, and
// Feed opens the agent's live feed (/ws/agent) as a Conn.
//
// Frames are read by a goroutine per Conn into a bounded buffer; a
// context given to Next only bounds the wait, it does not close the
// connection. Nothing here retries on its own: what to do after an
// "unavailable" error or a broken connection is the caller's choice
// (Reconnect, then send again with the same client id).
package client
