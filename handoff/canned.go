package handoff

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/playbook-dev/playbook/store"
)

// Canned response scopes: who reads and edits one is decided by the
// access package from these fields.
const (
	CannedTeam     = store.CannedTeam
	CannedPersonal = store.CannedPersonal
	CannedShared   = store.CannedShared
)

// Canned is a saved reply, inserted by typing /Short in the composer.
type Canned = store.Canned

// DefaultScope fills in what a new canned response by agent a leaves out:
// no scope is their team's when they have one team, else their own; a
// personal one is a's. An agent of several teams names the team.
func DefaultScope(c *Canned, a *Agent) error {
	if c.Scope == "" && c.Team != "" {
		c.Scope = CannedTeam
	}
	if c.Scope == "" {
		switch len(a.Teams) {
		case 0:
			c.Scope = CannedPersonal
		case 1:
			c.Scope = CannedTeam
		default:
			return fmt.Errorf("%w: say which team the canned response is for (one of %s), or scope personal", ErrInvalid, strings.Join(a.Teams, ", "))
		}
	}
	if c.Scope == CannedTeam && c.Team == "" {
		if len(a.Teams) != 1 {
			return fmt.Errorf("%w: say which team the canned response is for", ErrInvalid)
		}
		c.Team = a.Teams[0]
	}
	if c.Scope == CannedPersonal {
		c.Owner = a.ID
	}
	return nil
}

var cannedShortRE = regexp.MustCompile(`^[\p{L}\p{N}_-]{1,40}$`)

// NormalizeShort is how a short name is stored: without a leading /,
// spaces as dashes, lower case ("/Sales Pitch" is "sales-pitch").
func NormalizeShort(short string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(short), "/")), " ", "-"))
}

func checkCanned(c *Canned) error {
	c.Short = NormalizeShort(c.Short)
	if !cannedShortRE.MatchString(c.Short) {
		return fmt.Errorf("%w: a short name is 1 to 40 letters, digits, - or _", ErrInvalid)
	}
	if strings.TrimSpace(c.Text) == "" || len([]rune(c.Text)) > 4000 {
		return fmt.Errorf("%w: a canned response needs a text of 1 to 4,000 characters", ErrInvalid)
	}
	switch c.Scope {
	case CannedTeam:
		if !teamRE.MatchString(c.Team) {
			return fmt.Errorf("%w: a team's canned response needs its team", ErrInvalid)
		}
		c.Owner = ""
	case CannedPersonal:
		if c.Owner == "" {
			return fmt.Errorf("%w: a personal canned response needs its author", ErrInvalid)
		}
		c.Team = ""
	case CannedShared:
		c.Team, c.Owner = "", ""
	default:
		return fmt.Errorf("%w: scope is team, personal or shared", ErrInvalid)
	}
	return nil
}

// CreateCanned stores a new canned response and returns it with its id.
// A short name already used in the same team (or the same author's, or
// the shared list) fails with ErrExists.
func (s *Store) CreateCanned(ctx context.Context, c Canned) (*Canned, error) {
	if err := checkCanned(&c); err != nil {
		return nil, err
	}
	c.ID, c.UpdatedAt = "cr_"+randomToken(10), s.now().UTC()
	if err := s.st.CreateCanned(ctx, c); err != nil {
		if errors.Is(err, ErrExists) {
			return nil, fmt.Errorf("%w: a canned response /%s", ErrExists, c.Short)
		}
		return nil, err
	}
	return &c, nil
}

// CannedResponses returns every canned response, by short name; the
// caller shows each reader those the access policy lets them see.
func (s *Store) CannedResponses(ctx context.Context) ([]*Canned, error) {
	out, err := s.st.CannedList(ctx)
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Short != out[j].Short {
			return out[i].Short < out[j].Short
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// CannedByID returns one canned response, or ErrNotFound.
func (s *Store) CannedByID(ctx context.Context, id string) (*Canned, error) {
	if id == "" || len(id) > 100 {
		return nil, ErrNotFound
	}
	return s.st.Canned(ctx, id)
}

// UpdateCanned changes a canned response's short name and text; its scope
// and owner stay. ErrNotFound when it is gone, ErrExists when the new short
// name is taken in its scope.
func (s *Store) UpdateCanned(ctx context.Context, id, short, text string) (*Canned, error) {
	if id == "" || len(id) > 100 {
		return nil, ErrNotFound
	}
	c, err := s.st.ChangeCanned(ctx, id, func(c *Canned) error {
		c.Short, c.Text = short, text
		if err := checkCanned(c); err != nil {
			return err
		}
		c.UpdatedAt = s.now().UTC()
		return nil
	})
	if errors.Is(err, ErrExists) {
		return nil, fmt.Errorf("%w: a canned response /%s", ErrExists, NormalizeShort(short))
	}
	return c, err
}

// DeleteCanned removes a canned response; ErrNotFound when there is none
// with that id.
func (s *Store) DeleteCanned(ctx context.Context, id string) error {
	if id == "" || len(id) > 100 {
		return ErrNotFound
	}
	_, err := s.st.ChangeCanned(ctx, id, nil)
	return err
}
