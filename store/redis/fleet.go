package redis

import (
	"strings"
	"sync/atomic"
)

// A turn nobody else hears is not published (issue 13).
//
// Every turn's entries went out on the conversation's channel, for the
// followers on other processes: an agent watching from another process,
// the visitor's other tab. On one process, or with nobody elsewhere
// following, each turn's message came straight back to the process that
// made it (its pattern subscription hears every conversation), to be read
// and dropped: Redis matched and wrote it, serve read and parsed it.
//
// A turn may now be left unpublished (quiet) when both sides know nobody
// else hears it:
//
//   - this process: the caller says, in store.TurnReads.Quiet, that no
//     follower here but the turn's own connection follows the conversation
//     (the connection takes the entries from the turn's result, and the
//     caller catches up a follower that came during the turn);
//   - the fleet: the turn script asks Redis, in the same atomic step as
//     the write, whether any other process can hear the channel.
//
// For the second, a listener that subscribes a pattern (the hub's, every
// conversation's channel) subscribes it as a fleet member: in one
// PSUBSCRIBE, the pattern written with its "*" doubled (the same channels
// match) and a marker pattern of the process's own that matches no channel
// in use. Redis counts patterns once however many clients subscribe them
// (PUBSUB NUMPAT), so with this process's two subscribed, the count is two
// exactly when no other process subscribes any pattern:
//
//   - another process of this version adds its marker: three;
//   - a process of an older version subscribes the pattern as it was
//     written (one "*"): three;
//   - anything else subscribing a pattern (another key prefix, a tool):
//     more than two, and every turn is published, as before.
//
// The script asks NUMPAT in the same atomic step as the turn's write, and
// a turn asks to be quiet only while this process's listener holds its
// patterns (fleet.on): set once Redis confirmed both, cleared as soon as
// the listener's connection fails. Between Redis dropping the connection
// and the listener noticing, a quiet turn could find another process's two
// patterns counted and go unheard by that process; so when the listener
// has subscribed again it publishes a notice on the fleet's channel, and
// every fleet member that hears it catches up all its followers (a Resync
// of its pattern), as after a break of its own.
//
// A user that may not subscribe the doubled pattern (an ACL that names
// channel patterns, such as &pb:*) subscribes the pattern as written
// instead, as an older version does: its process is not a fleet member,
// and the others publish every turn.

// fleet is what a process's listener and its turns share: the process's
// id, and whether the listener holds its fleet patterns (a turn may then
// ask to be quiet).
type fleet struct {
	id string
	on atomic.Bool
	// shards, on a Cluster: the listener holds every placed shard
	// channel on a live connection (shardSubs.live).
	shards atomic.Bool
}

func newFleet() *fleet { return &fleet{id: newNonce()} }

// quietArg is what a quiet turn appends to its live argument in the turn
// script's ARGV[5]: a tab, or "" while the listener does not hold what
// the script counts. On one node, the fleet patterns. On a Cluster, every
// placed shard channel on a live connection: the script then leaves a
// placed conversation's turn unpublished when its shard channel has one
// subscriber (PUBSUB SHARDNUMSUB), this process's (every process that
// hears placed conversations subscribes every shard channel, an older one
// too; a connection Redis dropped before the listener noticed is healed
// by the notice, as on one node).
func (f *fleet) quietArg(oneNode bool) string {
	if f == nil || oneNode && !f.on.Load() || !oneNode && !f.shards.Load() {
		return ""
	}
	return "\t"
}

// fleetSubs are the patterns a listener subscribes for pattern as a fleet
// member (the pattern with its "*" doubled, and the process's marker),
// and the fleet's channel, on which a listener subscribed again after a
// break publishes its notice. ok is false for a pattern other than one
// "*" between a prefix and a suffix.
func fleetSubs(pattern, id string) (patterns [2]string, notice string, ok bool) {
	pre, suf, found := strings.Cut(pattern, "*")
	if !found || strings.ContainsAny(pre+suf, "*?[]\\") || id == "" {
		return patterns, "", false
	}
	patterns = [2]string{pre + "**" + suf, pre + fleetMark + ":" + id + suf}
	return patterns, pre + fleetMark + suf, true
}

// fleetMark names the fleet's marker patterns and notice channel in a
// pattern's place of "*": no conversation id or other channel name has a
// "!".
const fleetMark = "!fleet"
