// Package protocol holds the Playbook wire protocol as Go types: every
// frame of the visitor websocket (/ws/visitor) and of the agent live feed
// (/ws/agent), every body of the inbox API, their validation and their
// error codes. docs/protocol.md is the contract; this package follows it
// field by field, so the server, the Go client (package client), the
// bench and the tests share one definition.
//
// A frame is a struct without its "type" field: Encode writes the type
// its FrameType method names, as the first member of the JSON object, and
// DecodeVisitor, DecodeAgent and DecodeServer read it back into the
// matching struct. Nothing here does I/O; the package depends on the
// standard library only.
//
// Rules it keeps:
//   - The wire does not change for clients: a field that is always present
//     today stays so (no omitempty added), and one that is left out when
//     empty stays left out.
//   - Decoding never panics and refuses bad input with a documented error
//     code (Code); text fields come back valid UTF-8 without control
//     characters other than newline and tab.
package protocol
