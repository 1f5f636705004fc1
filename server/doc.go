// Package server is the transport in front of the conversation service
// (package conversation): the route table (routes.go), the visitor and
// agent websockets, cookies and CSRF, headers, the embedded widget and
// inbox files, and the admin API. A handler decodes a request, calls one
// service method and encodes the answer; the service decides (and asks the
// access policy). Server processes are stateless: conversations live in
// the store, so any number of processes can run behind a load balancer,
// and a visitor can reconnect to any of them.
//
// A visitor turn goes: websocket frame → conversation.Service.TurnThen
// (engine.Step inside one atomic store turn; the answer goes back to the
// visitor as soon as it is stored) → entries published to every other
// process → side effects (timers, HTTP calls, records, the handoff queue)
// carried out by the service after the commit, redone by its recovery
// sweep when a process dies in between.
//
// The CRM routes (crm.go) and transcript mail (mail.go) only decode and
// encode: the rules are conversation's (crmpanel.go, mail.go), and its
// ProblemOf maps their errors to statuses and codes. Not moved yet: reads
// of a conversation's details, the visitor's rating and leave-a-message
// frames still hold some rules here.
package server
