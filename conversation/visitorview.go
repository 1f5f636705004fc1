package conversation

import (
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// What a visitor may see of a conversation's transcript. The rules are
// the widget's: agents' tools (notes, records, internal outcomes, error
// positions, the author's id) never reach a visitor.

// VisibleToVisitor reports whether e goes to the widget: internal entries
// (records, notes, the deletion of a note, the note that nobody took the
// chat in time, a team that was away, the A/B variant the conversation
// went into) do not.
func VisibleToVisitor(e store.Entry) bool {
	switch e.Kind {
	case "record", "note", "missed", "away", "variant":
		return false
	case "deleted":
		private, _ := e.Data["private"].(bool)
		return !private
	}
	return true
}

// RedactDeleted returns entries with the messages that a deleted entry
// among them targets emptied of their content (the deleted entry that
// follows tells the widget to show "deleted"). entries is not changed.
func RedactDeleted(entries []store.Entry) []store.Entry {
	var gone map[string]bool
	for _, e := range entries {
		if e.Kind == "deleted" {
			if t, ok := e.Data["target"].(string); ok {
				if gone == nil {
					gone = map[string]bool{}
				}
				gone[t] = true
			}
		}
	}
	if gone == nil {
		return entries
	}
	out := make([]store.Entry, len(entries))
	for i, e := range entries {
		if gone[e.ID] {
			e = store.Entry{ID: e.ID, From: e.From, Kind: e.Kind, Author: e.Author, At: e.At}
		}
		out[i] = e
	}
	return out
}

// ForVisitor is e as the widget gets it: without what only agents may
// see (the card, an end's outcome label such as "disqualified", an
// error's position, an agent's id). A handoff keeps its team.
func ForVisitor(e store.Entry) protocol.Entry {
	e.Card = ""
	if e.Kind == "file" {
		e.Data = fileData(e.Data) // without the author's id
	} else if e.From == "agent" {
		e.Data = nil // the author's id (AuthorIDKey)
	}
	switch e.Kind {
	case "handoff":
		e.Data = map[string]any{"team": e.Data["team"]}
	case "end", "error":
		e.Data = nil
	}
	return WireEntry(e)
}

// VisitorEntries is what the widget shows of entries, in order: deleted
// messages redacted (RedactDeleted), internal entries left out
// (VisibleToVisitor), each stripped (ForVisitor).
func VisitorEntries(entries []store.Entry) []protocol.Entry {
	entries = RedactDeleted(entries)
	out := make([]protocol.Entry, 0, len(entries))
	for _, e := range entries {
		if VisibleToVisitor(e) {
			out = append(out, ForVisitor(e))
		}
	}
	return out
}

// VisitorFrom is the visitor a start frame (or a widget match) describes,
// with the page and locale it names, its texts cut to size (page and
// referrer 500 characters, name 200, email 320).
func VisitorFrom(page, locale string, v *protocol.Visitor) *engine.Visitor {
	vis := EngineVisitor(v)
	vis.Page = truncate(page, 500)
	if vis.Language == "" {
		vis.Language = locale
	}
	vis.ID = truncate(vis.ID, 200)
	vis.Name = truncate(vis.Name, 200)
	vis.Email = truncate(vis.Email, 320)
	vis.Referrer = truncate(vis.Referrer, 500)
	return &vis
}

// fileData is a file entry's data as everyone may see it: the file's id,
// name, type and size (a new map).
func fileData(d map[string]any) map[string]any {
	out := make(map[string]any, 5)
	for _, k := range []string{"file", "name", "type", "size"} {
		if v, ok := d[k]; ok {
			out[k] = v
		}
	}
	return out
}
