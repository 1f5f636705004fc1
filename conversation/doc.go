// Package conversation is the application: it owns a conversation's
// lifecycle — start, turn, the effects a turn leaves (timers, calls,
// records, handoff), the agents' actions, the recovery sweep, triggers and
// the hot-reloaded playbook registry. Transports (package server's
// websockets and REST handlers, the CLI) decode a request, call one
// method here and encode the answer; nothing here knows HTTP.
//
// The visitor side: one Widget per visitor connection (start, resume,
// turns, rating, transcript mail, the queue, live entries through the
// Hub), what a visitor may see of a transcript (VisitorEntries), their
// session Tokens, and Problem, the one mapping of errors to the visitor
// protocol's codes.
//
// The CRM as agents use it (crmpanel.go): the details panel of a
// conversation (Panel), the records an agent makes from a chat
// (CreateFromChat: what they are filled with, whom they may attach to),
// the CRM API's reads and the person update (Records, Record, Feed,
// UpdatePerson), every one through the access policy. Transcripts by
// email (mail.go): which copy may go to whom (MailTranscript,
// MailVisitorTranscript); the sending is a Mailer (internal/smtpmail).
// The admin's playbook upload: Registry.Upload. ProblemOf maps every
// domain error to one HTTP status, websocket code and message for people.
//
// Rules it keeps:
//   - Every time comes from the injected clock (Config.Now); tests advance
//     it instead of sleeping.
//   - Background work starts from the context given to Run, and Run waits
//     for it before it returns.
//   - Retries go through one helper (internal/retry), which honours the
//     context.
//   - Storage errors are returned (or, for work a sweep redoes, logged and
//     left marked pending); never swallowed silently.
package conversation
