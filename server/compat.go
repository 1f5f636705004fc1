package server

import "github.com/playbook-dev/playbook/conversation"

// The names below moved to package conversation; they stay here so that
// callers of package server keep building.
type (
	// CallPolicy is conversation.CallPolicy.
	CallPolicy = conversation.CallPolicy
	// Hours is conversation.Hours.
	Hours = conversation.Hours
)

// ParseHours is conversation.ParseHours.
func ParseHours(spec string) (Hours, error) { return conversation.ParseHours(spec) }
