package server

import "github.com/playbook-dev/playbook/conversation"

// Visitor tokens are signed and checked by conversation.Tokens; the
// server only carries them in frames.

// newID returns 128 random bits as 26 lowercase letters and digits.
func newID() string { return conversation.NewID() }
