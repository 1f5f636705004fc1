// Package store holds the small interfaces every storage engine implements,
// one per domain, and the plain data types they carry: sessions and their
// atomic turns, transcripts, timers, pending marks, playbook versions
// (programs), the pub/sub bus and the shared token secrets. The inbox, CRM
// and outbox interfaces live beside them in their own files.
//
// Two engines implement them: store/redis (one Redis node or a Redis
// Cluster, any number of processes) and store/embedded (the default: one
// process, persistent in a data directory). store/storetest is the
// conformance suite both pass.
//
// Rules: this package imports only engine and the standard library, never
// an engine package or a domain package (handoff, crm, server,
// conversation). Errors an engine returns for a missing or conflicting
// object are the ones declared here, so callers test them with errors.Is
// whatever the engine.
package store
