package access

import (
	"errors"
	"slices"
	"time"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
)

// Errors. Every refusal wraps ErrForbidden or ErrSignedOut.
var (
	// ErrSignedOut: nobody is signed in.
	ErrSignedOut = errors.New("sign in first")
	// ErrForbidden: the agent is signed in but may not do this.
	ErrForbidden = errors.New("forbidden")

	errOtherTeam      = forbidden("this conversation belongs to another team")
	errNoTeam         = forbidden("no team has this conversation yet; only admins see it")
	errNotAuthor      = forbidden("only the author or an admin may delete this message")
	errRecord         = forbidden("this record belongs to another team")
	errOtherPerson    = forbidden("this email or phone belongs to a person of another team")
	errNoConversation = forbidden("no conversation")
	errMarketer       = forbidden("a marketer sees statistics, not chats")
	errStats          = forbidden("only admins and marketers see the statistics")
)

// refusal is a reason to refuse that errors.Is matches with its kind.
type refusal struct {
	msg  string
	kind error
}

func forbidden(msg string) error { return &refusal{msg: msg, kind: ErrForbidden} }

func (r *refusal) Error() string { return r.msg }
func (r *refusal) Unwrap() error { return r.kind }

// Conversation returns nil when agent a may read and act on conversation
// c: a is an admin, c's assignee, or a member of c's team. It never looks
// at the person the conversation is with.
func Conversation(a *handoff.Agent, c *handoff.Conversation) error {
	switch {
	case a == nil:
		return ErrSignedOut
	case c == nil:
		return errNoConversation
	case a.Role == handoff.RoleAdmin:
		return nil
	case a.Role == handoff.RoleMarketer:
		return errMarketer
	case c.Assignee != "" && c.Assignee == a.ID:
		return nil
	case c.Team == "":
		return errNoTeam
	case slices.Contains(a.Teams, c.Team):
		return nil
	}
	return errOtherTeam
}

// CanSee reports whether Conversation(a, c) allows.
func CanSee(a *handoff.Agent, c *handoff.Conversation) bool { return Conversation(a, c) == nil }

// Visible returns the conversations of list that a may see, in order (a
// new slice; list is not changed).
func Visible(a *handoff.Agent, list []*handoff.Conversation) []*handoff.Conversation {
	out := make([]*handoff.Conversation, 0, len(list))
	for _, c := range list {
		if CanSee(a, c) {
			out = append(out, c)
		}
	}
	return out
}

// PreviousIDs returns the ids of ids (a conversation's previous list)
// whose conversation a may see, in order (a new slice). known holds the
// conversations those ids name, as far as they were found; an id without
// its conversation in known (expired, or not looked up) is left out: what
// cannot be checked is not shown.
func PreviousIDs(a *handoff.Agent, ids []string, known []*handoff.Conversation) []string {
	byID := make(map[string]*handoff.Conversation, len(known))
	for _, c := range known {
		if c != nil {
			byID[c.ID] = c
		}
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if c, ok := byID[id]; ok && CanSee(a, c) {
			out = append(out, id)
		}
	}
	return out
}

// Author is who wrote a transcript entry: the agent's id when the entry
// carries it, else the agent's name (entries written before ids were kept).
type Author struct {
	ID   string
	Name string
}

// DeleteEntry returns nil when a may delete an entry written by author in
// conversation c: a may act on c, and is the author or an admin.
func DeleteEntry(a *handoff.Agent, c *handoff.Conversation, author Author) error {
	if err := Conversation(a, c); err != nil {
		return err
	}
	if a.Role == handoff.RoleAdmin {
		return nil
	}
	if author.ID != "" {
		if author.ID == a.ID {
			return nil
		}
		return errNotAuthor
	}
	if author.Name != "" && author.Name == a.Name {
		return nil
	}
	return errNotAuthor
}

// Stats returns nil when a may see the funnel statistics (every
// conversation's counts, no conversation): admins and marketers.
func Stats(a *handoff.Agent) error {
	switch {
	case a == nil:
		return ErrSignedOut
	case a.Role == handoff.RoleAdmin || a.Role == handoff.RoleMarketer:
		return nil
	}
	return errStats
}

// Viewer is a as the CRM sees a viewer. A marketer sees no record (the
// CRM's records are the chats' people).
func Viewer(a *handoff.Agent) crm.Viewer {
	if a == nil {
		return crm.Viewer{}
	}
	if a.Role == handoff.RoleMarketer {
		return crm.Viewer{ID: "marketer:" + a.ID}
	}
	return crm.Viewer{ID: a.ID, Teams: a.Teams, Admin: a.Role == handoff.RoleAdmin}
}

// Record returns nil when a may see CRM record r: its owner, its teams'
// agents, admins.
func Record(a *handoff.Agent, r *crm.Record) error {
	if a == nil {
		return ErrSignedOut
	}
	if !Viewer(a).CanSee(r) {
		return errRecord
	}
	return nil
}

// LinkPerson returns nil when a record that agent a makes from conversation
// c may attach to the existing person p (nil: no such person, a new one is
// made). a must be allowed on c; then p must be visible to a, or be the
// chat's own visitor (ownVisitor: the email or phone is the one the
// visitor gave in c). Attaching adds c's team to p, so an agent could
// otherwise pull any person of another team into theirs by typing an
// email.
func LinkPerson(a *handoff.Agent, c *handoff.Conversation, p *crm.Record, ownVisitor bool) error {
	if err := Conversation(a, c); err != nil {
		return err
	}
	if p == nil || ownVisitor || Viewer(a).CanSee(p) {
		return nil
	}
	return errOtherPerson
}

var errNoTask = forbidden("only a task is marked done")

// CompleteTask returns nil when a may mark task r done or open it again:
// r is a task and a may see it (its assignee, its teams' agents, admins).
func CompleteTask(a *handoff.Agent, r *crm.Record) error {
	if a == nil {
		return ErrSignedOut
	}
	if r == nil || r.Kind != crm.KindTask {
		return errNoTask
	}
	return Record(a, r)
}

// FileURL is what a visitor's signed download URL says: one file of one
// conversation until Expires; Signed reports whether its signature was
// made with the server's secret for exactly these three.
type FileURL struct {
	Conversation string
	File         string
	Expires      time.Time
	Signed       bool
}

var (
	errFileLink    = forbidden("this download link is not valid")
	errFileExpired = forbidden("this download link has expired; open the chat again for a new one")
)

// VisitorFile returns nil when a visitor holding u may download file file
// of conversation conv at now: u is signed, names that conversation and
// that file, and has not expired. A visitor never gets a file by their
// session token alone, nor another conversation's with a valid link.
func VisitorFile(u FileURL, conv, file string, now time.Time) error {
	switch {
	case !u.Signed || u.Conversation != conv || u.File != file || conv == "" || file == "":
		return errFileLink
	case !now.Before(u.Expires):
		return errFileExpired
	}
	return nil
}

var errNotAdmin = forbidden("only admins administer agents, teams and tokens")

// Admin returns nil when a may administer the team: agents, API tokens,
// teams and their settings, the test mail. Admins only.
func Admin(a *handoff.Agent) error {
	switch {
	case a == nil:
		return ErrSignedOut
	case a.Role == handoff.RoleAdmin:
		return nil
	}
	return errNotAdmin
}
