// Package crm owns what reaches the sales team: people, organizations,
// leads, deals, tasks and notes, each person's and record's activity feed,
// owner assignment, and the webhook outbox that hands every event to the
// company's own CRM (Pipedrive, HubSpot, Zendesk Sell, ...).
//
// Everything lives in a storage engine behind two small interfaces,
// store.CRM (records, indexes, feeds) and store.Outbox (webhook events and
// deliveries); store/redis and store/embedded implement them. Rules it
// keeps:
//
//   - Planned in Go, applied by the engine. Create reads what it needs,
//     decides, and hands the engine one store.CRMChange: records and index
//     entries as compare-and-sets, then lists, feeds, the conversation's
//     memory and the record.created events. The embedded engine applies it
//     in one transaction; Redis (Cluster) in single-slot steps, new records
//     before the index entries that point at them, so no index ever names
//     a missing record, and a failed compare undoes the steps before it.
//     (The conversation keys, pb:{c:ID}:..., live elsewhere: nothing here
//     is atomic with a conversation's turn; the server creates records
//     after the turn commits, and creating is idempotent.)
//   - Idempotent creation. [Store.Create] takes an engine.Record whose Key
//     (session, turn, card) is the idempotency key: the same key creates
//     once, however often it is retried (a re-run turn, a duplicate message,
//     a crash before the reply). The key holds the change's plan while it
//     is applied, so a create retried after a crash between two steps
//     finishes that plan (the same ids, each event once) instead of making
//     another.
//   - Optimistic, not locked. Create reads what it needs (the person with
//     that email, the organization of that domain), decides in Go, and the
//     script commits only if what it read is unchanged; otherwise Create
//     reads again. Two conversations of one email at the same instant make
//     one person.
//   - People are deduplicated by normalized email (trimmed, lowercase,
//     without mailto: or <>), then by phone (digits, with a leading + when
//     the number had a country code). Organizations by the registrable part
//     of the email domain; free-mail domains (gmail, yahoo, outlook, ...)
//     make no organization.
//   - Owners: "round_robin:TEAM" picks the next of the team's agents sorted
//     by id, online ones first, with a counter shared by every process
//     (INCR), so it is fair across processes; a returning person keeps the
//     owner they have when that agent is in the team, and all records of
//     one conversation get the same agent. An agent's email or id names a
//     fixed owner. No owner: the matched person's owner.
//   - Visibility: an agent sees a person or record when they own it, when
//     it shares a team with them (the team of the conversation it came
//     from, of its round robin, or of its owner), or when they are an admin.
//     A person collects the teams of everything linked to it.
//   - Webhooks: events go to an outbox stream read by a consumer group; each
//     event fans out into one delivery per subscription, kept in a sorted
//     set by due time with a lease, so exactly one process works on a
//     delivery at a time, and retries survive restarts. Deliveries are at
//     least once, signed, retried with exponential backoff and full jitter
//     for at least MaxAge (24 h), then dead-lettered for replay.
//
// The package does no HTTP serving and never imports the inbox: the server
// adapts its agent directory ([Directory]) and notifications ([Notice]).
package crm
