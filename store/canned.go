package store

import (
	"context"
	"time"
)

// Canned response scopes: who reads and edits one is decided by the
// access package from these fields.
const (
	// CannedTeam: the agents of Team read and edit it; admins too.
	CannedTeam = "team"
	// CannedPersonal: only its author (Owner) reads and edits it.
	CannedPersonal = "personal"
	// CannedShared: every agent reads it; admins edit it. Canned responses
	// saved before they had owners (one global list) became these.
	CannedShared = "shared"
)

// Canned is a saved reply, inserted by typing /Short in the composer.
type Canned struct {
	ID    string `json:"id"`
	Short string `json:"short"`
	Text  string `json:"text"`
	Scope string `json:"scope"`
	// Team is the owning team (scope team).
	Team string `json:"team,omitempty"`
	// Owner is the author's agent id (scope personal).
	Owner string `json:"owner,omitempty"`
	// CreatedBy is the agent id of whoever wrote it ("" for migrated ones).
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// UniqueKey is what must be unique among canned responses: the short name
// within its team, its author's list, or the shared list.
func (c *Canned) UniqueKey() string {
	switch c.Scope {
	case CannedTeam:
		return "team:" + c.Team + ":" + c.Short
	case CannedPersonal:
		return "personal:" + c.Owner + ":" + c.Short
	}
	return "shared:" + c.Short
}

// CannedResponses keeps canned responses. A UniqueKey already used fails
// with ErrInboxExists; an unknown id is ErrInboxNotFound.
type CannedResponses interface {
	// CreateCanned stores a new canned response (its id set by the
	// caller).
	CreateCanned(ctx context.Context, c Canned) error
	// CannedList returns every canned response, in no order.
	CannedList(ctx context.Context) ([]*Canned, error)
	// Canned returns one.
	Canned(ctx context.Context, id string) (*Canned, error)
	// ChangeCanned applies change to the stored canned response and stores
	// the result atomically (change may run more than once, on a fresh
	// copy each time); a nil change deletes it. It returns what it
	// stored.
	ChangeCanned(ctx context.Context, id string, change func(*Canned) error) (*Canned, error)
}
