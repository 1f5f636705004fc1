// Package redis is the Redis storage engine: one Redis node or a Redis
// Cluster, with the same code. Import it as redisstore; go-redis is
// imported here as goredis.
//
// Every key of one conversation carries its id as a hash tag
// (pb:{c:ID}:...), every multi-key operation touches one slot by
// construction, and each atomic step is one Lua script, so it runs on a
// cluster as on one node.
//
// A turn is one round trip: a Lua script (run by EVALSHA) checks the
// session's version, writes the new state, appends the transcript entries
// (a Redis list of "ID ENTRY" items), records the client's message id and
// publishes the entries to other server processes, all at once. A
// duplicate client message id is answered from the transcript instead of
// running the step again; a version conflict makes the caller re-read and
// re-run the step.
//
// Entry ids look like stream ids ("ms-seq", from the Redis server's clock,
// increasing within a conversation) and compare like them. A transcript was
// a Redis Stream before: Redis 7 gives every stream a 4 KB node up front,
// which was half of what a conversation cost. A conversation stored then
// keeps its stream (the turn script appends with XADD, reads fall back to
// XRANGE), so an upgrade needs no migration.
//
// The read before the write is usually skipped: the Store keeps the last
// version of each session it wrote or read in a bounded in-process cache
// (Options.CacheSize), and the turn script's version check makes that guess
// safe. When another tab or process wrote in between, the script answers
// "stale" and the turn runs again on the session read from Redis. So a turn
// costs one EVALSHA, and two round trips plus a second EVALSHA when the
// conversation moved to another process.
package redis
