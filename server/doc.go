// Package server serves playbooks to visitors: the embeddable widget, the
// visitor websocket, the playbook registry with live reload, and the admin
// API. Server processes are stateless: conversations live in Redis (package
// redisstore), so any number of processes can run behind a load balancer,
// and a visitor can reconnect to any of them.
//
// The route table is in routes.go. A visitor turn goes: websocket frame →
// (*Server).turn → engine.Step inside one atomic store turn → entries sent
// to the visitor and published to every other process → side effects
// (timers, HTTP calls, records) carried out after the commit.
//
// Records go to the CRM (package crm, crm.go here) unless Config.Records
// says otherwise; creating is idempotent on the record's key, so a record
// the transcript has but the CRM lacks (a process died in between) is made
// again when an agent opens the conversation's CRM panel. Every process
// also delivers webhooks from the CRM's outbox in Run.
package server
