// Package transcript renders conversations as text for people and decides
// who may have them mailed: a visitor's copy never holds private notes or
// deleted text; the internal copy (with notes) only goes to agents.
//
// It is domain code: it returns plain errors, never HTTP ones.
package transcript

import (
	"fmt"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/store"
)

// Visitor renders the copy of a conversation that may reach the visitor
// (or anyone outside the team): the messages of the visitor, the bot and
// the agents, who joined and left, and the end. Private notes, records,
// internal events and the text of deleted messages are never in it. It is
// the only rendering used for mail that can reach a visitor.
func Visitor(conv *handoff.Conversation, entries []store.Entry) string {
	return render(conv, entries, false)
}

// Internal renders the agents' copy: the visitor's copy plus private notes
// and hand-offs. Deleted messages and notes show as deleted, without their
// text.
func Internal(conv *handoff.Conversation, entries []store.Entry) string {
	return render(conv, entries, true)
}

func render(conv *handoff.Conversation, entries []store.Entry, internal bool) string {
	var b strings.Builder
	if internal {
		fmt.Fprintf(&b, "Conversation %s (%s)\n", conv.ID, conv.Playbook)
	} else {
		b.WriteString("Your conversation with us\n")
	}
	fmt.Fprintf(&b, "Started: %s\n", conv.StartedAt.Format(time.RFC1123))
	if conv.ResolvedAt != nil {
		fmt.Fprintf(&b, "Ended:   %s\n", conv.ResolvedAt.Format(time.RFC1123))
	}
	if conv.AssigneeName != "" {
		fmt.Fprintf(&b, "Agent:   %s\n", conv.AssigneeName)
	}
	b.WriteString("\n")
	deleted := map[string]bool{}
	for _, e := range entries {
		if e.Kind == "deleted" {
			if t, ok := e.Data["target"].(string); ok {
				deleted[t] = true
			}
		}
	}
	for _, e := range entries {
		who := map[string]string{"visitor": "You", "bot": "Bot", "agent": "Agent", "system": ""}[e.From]
		if internal && e.From == "visitor" {
			who = "Visitor"
		}
		if e.Author != "" && (e.From == "agent" || e.From == "bot") {
			who = e.Author
		}
		at := e.At.UTC().Format("15:04")
		switch e.Kind {
		case "message":
			if e.From == "system" && !internal {
				continue // internal system lines (hand-off notices and the like)
			}
			text := e.Text
			if deleted[e.ID] {
				text = "(message deleted)"
			}
			fmt.Fprintf(&b, "[%s] %s: %s\n", at, who, text)
		case "note":
			if !internal {
				continue
			}
			text := e.Text
			if deleted[e.ID] {
				text = "(note deleted)"
			}
			fmt.Fprintf(&b, "[%s] (private note) %s: %s\n", at, who, text)
		case "file":
			name := e.Text
			if deleted[e.ID] {
				name = "(file deleted)"
			}
			fmt.Fprintf(&b, "[%s] %s sent a file: %s\n", at, who, name)
		case "joined":
			fmt.Fprintf(&b, "[%s] %s joined\n", at, e.Author)
		case "left":
			fmt.Fprintf(&b, "[%s] %s left\n", at, e.Author)
		case "handoff":
			if internal {
				fmt.Fprintf(&b, "[%s] handed to team %v\n", at, e.Data["team"])
			}
		case "away":
			if internal {
				fmt.Fprintf(&b, "[%s] team %v was away: the bot's offline path ran\n", at, e.Data["team"])
			}
		case "resolved":
			fmt.Fprintf(&b, "[%s] conversation resolved\n", at)
		}
	}
	return b.String()
}
