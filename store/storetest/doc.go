// Package storetest is the conformance suite every storage engine passes:
// one exported function per domain, called from each engine's tests (the
// embedded engine, a real Redis and a real Redis Cluster).
//
// Each function takes an open function that makes a fresh, empty data set
// for one test and returns how to open instances on it: every call opens a
// new instance on the same data, as another process would (its own Redis
// client on the same key prefix; on the embedded engine, another handle on
// the one DB). Races between instances stand for races between processes.
package storetest
