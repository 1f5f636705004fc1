// Package embedded is the default storage engine: persistent in one data
// directory, pure Go, owned by one process at a time.
//
// DB is the foundation every domain builds on: atomic read-write
// transactions (Update) and consistent read snapshots (View) over ordered
// keys, keys built from typed parts with K (ordered like the parts, so a
// prefix scan walks one conversation, one team, one index), expiring keys
// checked against an injected clock and deleted by a periodic sweep, and
// an in-process Bus that delivers what a transaction published once it
// committed.
//
// A domain's atomic step is a Go function run in one Update. Rules: build
// every key with K and a short first part naming the domain's key space
// ("c" conversations, "tm" timers, ...: see keys.go); never
// write inside a Scan callback (collect, then write); never call the DB
// from inside a transaction.
//
// Durability: a committed transaction has been written to the operating
// system before Update returns, so it survives the process being killed
// (kill -9); with Options.Sync it is also on disk (fsync) and survives a
// power cut.
package embedded
