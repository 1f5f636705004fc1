// Package redis is the Redis storage engine: one Redis node or a Redis
// Cluster, with the same code. Every key of one conversation carries its id
// as a hash tag (pb:{c:ID}:...), every multi-key operation touches one slot
// by construction, and each atomic step is one Lua script, so it runs on a
// cluster as on one node.
//
// Import it as redisstore: go-redis is imported here as goredis.
package redis
