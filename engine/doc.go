// Package engine is the playbook interpreter.
//
// A [Program] is a compiled playbook: immutable, safe for concurrent use by any
// number of sessions, built by package dsl. A [Session] is one visitor's state:
// plain data that serializes to JSON and records the content hash of the
// program version it started on. [Step] moves a session by one [Event] and
// returns the [Effect]s the caller must carry out (send messages, hand off,
// create records, make an HTTP call, set a timer).
//
// The engine does no I/O: it never reads a clock, the network or Redis. The
// time, the agents online per team and the results of HTTP calls all arrive
// in events. That keeps a turn fast and lets `playbook test`, `playbook chat`
// and the server run exactly the same code.
package engine
