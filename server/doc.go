// Package server is the transport in front of the conversation service
// (package conversation): the route table (routes.go), the visitor and
// agent websockets, cookies and CSRF, headers, the embedded widget and
// inbox files, and the admin API. A handler decodes a request, calls one
// service method and encodes the answer; the service decides (and asks the
// access policy). Server processes are stateless: conversations live in
// the store, so any number of processes can run behind a load balancer,
// and a visitor can reconnect to any of them.
//
// A visitor turn goes: websocket frame → the connection's
// conversation.Widget → conversation.Service.TurnThen (engine.Step inside
// one atomic store turn; the answer goes back to the visitor as soon as
// it is stored) → entries published to every other
// process → side effects (timers, HTTP calls, records, the handoff queue)
// carried out by the service after the commit, redone by its recovery
// sweep when a process dies in between.
//
// The CRM routes (crm.go), transcript mail (mail.go), the inbox API
// (inbox.go) and the agent feed (agentws.go) only decode and encode: the
// rules are conversation's (crmpanel.go, mail.go, inboxview.go,
// agentfeed.go), and its ProblemOf maps their errors to statuses and
// codes; the server keeps the session cookie, the CSRF check and the
// sockets. server.go takes a conversation.App (conversation.NewApp on a
// storage engine) and builds no store itself: the package imports no
// store, handoff, access, crm, engine or transcript.
//
// The visitor websocket (visitor.go) only decodes frames, hands each to
// its conversation.Widget and writes the frames the widget pushes; what a
// visitor may see, start, resume, rating, transcript mail, the queue and
// leaving a message are the widget's, and conversation.ErrorFrame makes
// its errors into error frames.
package server
