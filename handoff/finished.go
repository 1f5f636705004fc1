package handoff

import "github.com/playbook-dev/playbook/engine"

// Finished reports whether a conversation is over for its visitor: an
// agent resolved it, or the bot's part ended with no hand-off. The visitor's
// transcript frame asks it. (Rating is stricter: only a resolved
// conversation, checked atomically in Store.Rate.)
func Finished(c *Conversation, session engine.Status) bool {
	return (c != nil && c.Status == StatusResolved) || session == engine.StatusEnded
}
