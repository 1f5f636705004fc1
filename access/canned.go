package access

import (
	"slices"

	"github.com/playbook-dev/playbook/handoff"
)

var (
	errCannedReadOnly = forbidden("only admins change the shared canned responses, and only its author a personal one")
	errCannedTeam     = forbidden("you can save canned responses only for your own teams")
	errCannedShared   = forbidden("only admins save shared canned responses")
	errCannedOwner    = forbidden("a personal canned response is its author's")
)

// CanReadCanned reports whether a may see and use canned response c: a
// team's by its agents and admins, a personal one by its author only
// (admins included), a shared one by everyone signed in. Who may not read
// one is told it does not exist (404), so ids of others' are not revealed.
func CanReadCanned(a *handoff.Agent, c *handoff.Canned) bool {
	if a == nil || c == nil {
		return false
	}
	switch c.Scope {
	case handoff.CannedShared:
		return true
	case handoff.CannedTeam:
		return a.Role == handoff.RoleAdmin || slices.Contains(a.Teams, c.Team)
	case handoff.CannedPersonal:
		return c.Owner == a.ID
	}
	return false
}

// EditCanned decides whether a may change or delete canned response c (one
// they can read): a team's by its agents and admins, a personal one by its
// author, a shared one by admins.
func EditCanned(a *handoff.Agent, c *handoff.Canned) error {
	if a == nil {
		return ErrSignedOut
	}
	if !CanReadCanned(a, c) {
		return errCannedReadOnly
	}
	if c.Scope == handoff.CannedShared && a.Role != handoff.RoleAdmin {
		return errCannedReadOnly
	}
	return nil
}

// NewCanned decides whether a may save canned response c: for one of
// their teams (any team for admins), for themselves, or shared (admins).
func NewCanned(a *handoff.Agent, c *handoff.Canned) error {
	if a == nil {
		return ErrSignedOut
	}
	switch c.Scope {
	case handoff.CannedTeam:
		if a.Role != handoff.RoleAdmin && !slices.Contains(a.Teams, c.Team) {
			return errCannedTeam
		}
	case handoff.CannedShared:
		if a.Role != handoff.RoleAdmin {
			return errCannedShared
		}
	case handoff.CannedPersonal:
		if c.Owner != a.ID {
			return errCannedOwner
		}
	}
	return nil
}
