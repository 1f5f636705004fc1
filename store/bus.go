package store

import (
	"context"
	"errors"
	"strings"
)

// Message is what a Listener receives.
type Message struct {
	Channel string
	Payload string
	// Resync is set (and Payload empty) when the subscription to Channel
	// came back after a break (a Redis restart, a network cut, a listener
	// that fell behind): whatever was published in between was missed, and
	// the follower catches up from what is stored.
	Resync bool
}

// Bus carries messages between processes (Redis pub/sub) or within one
// (the embedded engine). Delivery is at most once: a follower that must
// not miss anything reads the store after a Resync.
type Bus interface {
	// Publish sends payload to every listener subscribed to channel.
	Publish(ctx context.Context, channel, payload string) error
	// Listen opens a listener with no subscriptions; close it when done.
	Listen(ctx context.Context) (Listener, error)
}

// ErrListenerClosed is returned by a closed Listener.
var ErrListenerClosed = errors.New("listener closed")

// Listener receives the messages of the channels it subscribes to.
type Listener interface {
	// Subscribe adds channels. Messages published after it returns are
	// delivered.
	Subscribe(ctx context.Context, channels ...string) error
	// Unsubscribe removes channels. A message already on its way (on a
	// Redis Cluster, between nodes) may still arrive.
	Unsubscribe(ctx context.Context, channels ...string) error
	// Messages delivers the messages until the listener is closed.
	Messages() <-chan Message
	// Close ends the listener and closes Messages.
	Close() error
}

// PatternListener is a Listener that can also follow every channel whose
// name matches a glob pattern (Redis PSUBSCRIBE): one subscription for
// all of a process's conversations instead of a SUBSCRIBE and an
// UNSUBSCRIBE for each. A message comes with its own channel's name; when
// a pattern's subscription came back after a break, a Message with Resync
// set names the pattern as its Channel. The Redis bus's listeners are
// PatternListeners; the embedded bus's, whose subscriptions cost nothing,
// are not.
type PatternListener interface {
	Listener
	// PSubscribe adds patterns. Messages published on matching channels
	// after it returns are delivered.
	PSubscribe(ctx context.Context, patterns ...string) error
}

// ConversationOf returns the conversation id in a conversation's channel
// name (Sessions.Channel), "" when it names none.
func ConversationOf(channel string) string {
	_, rest, ok := strings.Cut(channel, "{c:")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "}")
	return id
}

// Secrets is the token secret the processes of one deployment share when
// none is configured.
type Secrets interface {
	// SyncSecret stores own as the signing secret unless one is stored
	// already, and returns the stored one and every secret tokens in
	// circulation may be signed with (see AcceptSecrets).
	SyncSecret(ctx context.Context, own []byte) (current []byte, accepted [][]byte, err error)
	// AcceptSecrets adds secrets to the accepted set.
	AcceptSecrets(ctx context.Context, secrets [][]byte) error
}

// ShardListener is a PatternListener that hears some of the channels its
// patterns match through subscriptions of another kind (Redis Cluster's
// sharded pub/sub: one channel per slot). A Message with Resync set may
// name one of those; the followers of every channel it Covers catch up.
type ShardListener interface {
	PatternListener
	// Covers reports whether a Resync of channel resynced is one of ch.
	Covers(resynced, ch string) bool
}
