package conversation

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/handoff"
)

// visitorWho names the visitor of c in notifications as the inbox titles
// conversations: their name, else their email as "ana at Acme" (a
// free-mail address stays whole), else "A visitor".
func visitorWho(c *handoff.Conversation) string {
	switch {
	case c == nil:
		return "A visitor"
	case strings.TrimSpace(c.Visitor.Name) != "":
		return truncate(strings.TrimSpace(c.Visitor.Name), 60)
	case c.Visitor.Email != "":
		return truncate(emailWho(c.Visitor.Email), 80)
	}
	return "A visitor"
}

// emailWho is "ana at Acme" for ana@eu.acme.co.uk; a free-mail address,
// or one with no company domain, as it is.
func emailWho(email string) string {
	org, _, _ := strings.Cut(crm.OrgDomain(email), ".")
	at := strings.LastIndexByte(email, '@')
	if org == "" || at < 1 {
		return email
	}
	r, n := utf8.DecodeRuneInString(org)
	return email[:at] + " at " + string(unicode.ToUpper(r)) + org[n:]
}

// teamTitle is a team's id as a title: "sales" is "Sales", "key-accounts"
// "Key accounts"; "" is "No team".
func teamTitle(team string) string {
	if team == "" {
		return "No team"
	}
	t := strings.NewReplacer("-", " ", "_", " ").Replace(team)
	r, n := utf8.DecodeRuneInString(t)
	return string(unicode.ToUpper(r)) + t[n:]
}
