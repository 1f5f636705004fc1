// Package access is the one policy that decides who may read or act on a
// conversation, a CRM record, or an entry of a transcript. Every read path
// and action of the agent API and of /ws/agent asks it; nothing else
// decides.
//
// Rules it keeps:
//   - A conversation decides who sees it: its team, its assignee, and
//     admins. The teams of the person it is with never grant access: a
//     support chat with the same email as a sales chat does not open the
//     sales chat to support.
//   - A conversation no team has had yet (the bot alone) is for admins.
//   - Nobody signed out sees anything (a nil agent is signed out).
//   - A CRM record is seen by its owner, its teams' agents and admins
//     (crm.Viewer.CanSee).
//   - An agent's record made from a chat may attach to an existing person
//     only when the agent may see that person, or the person is the
//     chat's own visitor (the email the visitor gave in this chat).
//   - Only the author of an agent's message or note, or an admin, may
//     delete it.
//
// The package is pure: no I/O, no HTTP. Its errors wrap ErrForbidden or
// ErrSignedOut; the transport maps them to 403 and 401.
package access
