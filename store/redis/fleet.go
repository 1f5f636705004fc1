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
// match) and a marker pattern that matches no channel in use; then, in one
// SUBSCRIBE, the fleet's channel and this process's own. The script leaves
// a turn quiet only when Redis counts exactly one subscriber of the fleet's
// channel, one of this process's, none of the conversation's own channel,
// and exactly two patterns (PUBSUB NUMSUB and NUMPAT):
//
//   - another process of this version subscribes the fleet's channel: two;
//   - a process of an older version subscribes the pattern as it was
//     written (one "*"): three patterns; a hub that follows channels one
//     by one subscribes the conversation's channel;
//   - this process's listener lost its connection: its own channel has no
//     subscriber until go-redis subscribes again (channels first, then the
//     patterns in one command: in between Redis counts no pattern of ours,
//     so never two with an older process's);
//   - another process of this version starting: it subscribes its patterns
//     before its channels, and its followers catch up once both are
//     confirmed (Hub.Run).
//
// Anything else that subscribes a pattern on the same Redis (another key
// prefix, a tool) makes the count more than two: every turn is published
// then, as before. A Redis Cluster publishes every turn too (a pattern
// subscribed on one node is not counted on the others).

// fleet is what a process's listener and its turns share: the process's
// id, and once the listener holds the fleet's subscriptions, what a quiet
// turn appends to its channel in the turn script's ARGV[5]: a tab, the
// fleet's channel, a tab, this process's channel.
type fleet struct {
	id    string
	quiet atomic.Pointer[string]
}

func newFleet() *fleet { return &fleet{id: newNonce()} }

// quietArg is what a quiet turn appends to its channel ("" when the
// listener does not hold the fleet's subscriptions).
func (f *fleet) quietArg() string {
	if f == nil {
		return ""
	}
	if q := f.quiet.Load(); q != nil {
		return *q
	}
	return ""
}

// fleetSubs are the subscriptions a listener makes for pattern as a fleet
// member: the patterns (the pattern with its "*" doubled, and the marker)
// and the channels (the fleet's and the process's). ok is false for a
// pattern other than one "*" between a prefix and a suffix.
func fleetSubs(pattern, id string) (patterns, channels [2]string, ok bool) {
	pre, suf, found := strings.Cut(pattern, "*")
	if !found || strings.ContainsAny(pre+suf, "*?[]\\\t\n") || id == "" {
		return patterns, channels, false
	}
	patterns = [2]string{pre + "**" + suf, pre + fleetMark + suf}
	channels = [2]string{pre + fleetMark + suf, pre + fleetMark + ":" + id + suf}
	return patterns, channels, true
}

// fleetMark names the fleet's marker pattern and channels in a pattern's
// place of "*": no conversation id or other channel name has a "!".
const fleetMark = "!fleet"
