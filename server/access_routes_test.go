package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	pbclient "github.com/playbook-dev/playbook/client"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/protocol"
)

// What a route's :id names, and so which rule decides.
const (
	scopeConversation = "conversation" // the sales chat: its team, assignee, admins
	scopeAuthor       = "author"       // an entry of the sales chat: its author (Sam), admins
	scopeRecord       = "record"       // a sales CRM record: its owner, teams, admins
	scopeSelf         = "self"         // any signed-in agent (their own data, filtered lists)
	scopePublic       = "public"       // no sign-in (widget, login, static files)
	scopeAdmin        = "admin"        // the admin token, never an agent's session
	scopeStats        = "stats"        // the funnel statistics: admins and marketers
	scopeSettings     = "settings"     // team administration (the Settings screen): admin agents only
)

// accessTable has a row for every route of the server; a route added
// without one fails TestEveryRouteAsksTheAccessPolicy.
var accessTable = map[string]string{
	"GET /":                                         scopePublic,
	"GET /widget.js":                                scopePublic,
	"GET /static/*":                                 scopePublic,
	"GET /livez":                                    scopePublic,
	"GET /healthz":                                  scopePublic,
	"GET /readyz":                                   scopePublic,
	"GET /ws/visitor":                               scopePublic,
	"POST /api/widget/match":                        scopePublic,
	"OPTIONS /api/widget/match":                     scopePublic,
	"POST /api/widget/files":                        scopePublic, // the visitor's session token: TestVisitorFiles
	"OPTIONS /api/widget/files":                     scopePublic,
	"GET /api/widget/files/:conv/:file":             scopePublic, // a signed URL (access.VisitorFile): TestVisitorFileURLs
	"GET /inbox":                                    scopePublic,
	"GET /inbox/":                                   scopePublic,
	"POST /api/auth/login":                          scopePublic,
	"POST /api/auth/logout":                         scopePublic,
	"GET /api/playbooks":                            scopeAdmin,
	"POST /api/playbooks":                           scopeAdmin,
	"GET /api/me":                                   scopeSelf,
	"PUT /api/me/presence":                          scopeSelf,
	"GET /api/agents":                               scopeSelf,
	"GET /api/conversations":                        scopeSelf,
	"GET /api/canned":                               scopeSelf,
	"POST /api/canned":                              scopeSelf,
	"PUT /api/canned/:id":                           scopeSelf, // canned responses have their own owners (team, author)
	"DELETE /api/canned/:id":                        scopeSelf,
	"GET /api/people":                               scopeSelf,
	"GET /api/organizations":                        scopeSelf,
	"GET /api/leads":                                scopeSelf,
	"GET /api/deals":                                scopeSelf,
	"GET /api/tasks":                                scopeSelf,
	"GET /ws/agent":                                 scopeSelf, // its frames: TestEveryAgentFrameAsksTheAccessPolicy
	"GET /api/conversations/:id":                    scopeConversation,
	"GET /api/conversations/:id/transcript":         scopeConversation,
	"POST /api/conversations/:id/assign":            scopeConversation,
	"POST /api/conversations/:id/unassign":          scopeConversation,
	"POST /api/conversations/:id/transfer":          scopeConversation,
	"POST /api/conversations/:id/handback":          scopeConversation,
	"POST /api/conversations/:id/messages":          scopeConversation,
	"DELETE /api/conversations/:id/messages/:entry": scopeAuthor,
	"POST /api/conversations/:id/notes":             scopeConversation,
	"POST /api/conversations/:id/labels":            scopeConversation,
	"POST /api/conversations/:id/snooze":            scopeConversation,
	"POST /api/conversations/:id/resolve":           scopeConversation,
	"POST /api/conversations/:id/reopen":            scopeConversation,
	"POST /api/conversations/:id/typing":            scopeConversation,
	"POST /api/conversations/:id/transcript/email":  scopeConversation,
	"GET /api/conversations/:id/crm":                scopeConversation,
	"POST /api/conversations/:id/files":             scopeConversation,
	"GET /api/conversations/:id/files/:file":        scopeConversation,
	"POST /api/conversations/:id/lead":              scopeConversation,
	"POST /api/conversations/:id/deal":              scopeConversation,
	"POST /api/conversations/:id/notify-sales":      scopeConversation,
	"GET /api/people/:id":                           scopeRecord,
	"PUT /api/people/:id":                           scopeRecord,
	"GET /api/people/:id/feed":                      scopeRecord,
	"GET /api/organizations/:id":                    scopeRecord,
	"GET /api/organizations/:id/feed":               scopeRecord,
	"GET /api/leads/:id":                            scopeRecord,
	"GET /api/leads/:id/feed":                       scopeRecord,
	"GET /api/deals/:id":                            scopeRecord,
	"GET /api/deals/:id/feed":                       scopeRecord,
	"GET /api/tasks/:id":                            scopeRecord,
	"POST /api/tasks/:id/done":                      scopeRecord,
	"GET /api/stats":                                scopeStats,
	"GET /api/admin/agents":                         scopeSettings,
	"POST /api/admin/agents":                        scopeSettings,
	"PUT /api/admin/agents/:id":                     scopeSettings,
	"POST /api/admin/agents/:id/disable":            scopeSettings,
	"POST /api/admin/agents/:id/enable":             scopeSettings,
	"POST /api/admin/agents/:id/password":           scopeSettings,
	"DELETE /api/admin/agents/:id":                  scopeSettings,
	"GET /api/admin/tokens":                         scopeSettings,
	"POST /api/admin/tokens":                        scopeSettings,
	"DELETE /api/admin/tokens/:id":                  scopeSettings,
	"GET /api/admin/teams":                          scopeSettings,
	"PUT /api/admin/teams/:name":                    scopeSettings,
	"POST /api/admin/mail/test":                     scopeSettings,
}

// TestEveryRouteAsksTheAccessPolicy walks echo's route list: every route
// has a row, and every agent route answers {same team, other team, admin,
// signed out} as the access policy says. Bodies are invalid on purpose
// where a valid one would change the chat's team or assignee (a refused
// request is refused before the body is read; an allowed one fails
// validation): the point is who gets past the policy.
func TestEveryRouteAsksTheAccessPolicy(t *testing.T) {
	w := newTwoTeams(t)
	ctx := context.Background()
	st := w.ts.srv.Service().CRM()
	lead, err := st.List(ctx, crm.Viewer{Admin: true}, crm.Query{Kind: crm.KindLead})
	if err != nil || len(lead) != 1 {
		t.Fatalf("leads = %v, %v", lead, err)
	}
	var deal struct{ Record *crm.Record }
	json.Unmarshal(w.sam.ok("POST", "/api/conversations/"+w.conv+"/deal", map[string]any{"title": "Deal"}), &deal)
	task, err := st.Create(ctx, crm.Source{Conversation: w.conv, Team: "sales"}, engine.Record{Kind: "task", Key: "access-table-task", Fields: map[string]any{"subject": "Call Ana"}})
	if err != nil {
		t.Fatal(err)
	}
	// The trap of issue 11: the sales person also wrote to support, so
	// the person lists both teams. That must open nothing of the chat.
	if _, err := st.LinkChat(ctx, crm.Chat{Conversation: w.supportChat(t, nil)}, "support", "ana@acme.io"); err != nil {
		t.Fatal(err)
	}
	// A support chat in support's queue whose previous list names the
	// sales chat: support's lists must not name it (admin's may).
	w.liveSupportChat(t)
	if b := w.admin.ok("GET", "/api/conversations", nil); !carriesPrevious(b, w.conv) {
		t.Fatalf("the admin's list does not name the sales chat as the support chat's previous one: %.300s", b)
	}
	var entries []map[string]any
	json.Unmarshal(w.sam.ok("GET", "/api/conversations/"+w.conv+"/transcript", nil), &entries)
	note := ""
	for _, e := range entries {
		if e["kind"] == "note" {
			note, _ = e["id"].(string)
		}
	}
	// Records of sales only (Ana now lists support too, by the CRM's rule
	// for people): Bob, his organization, the lead, the deal, a task.
	bob, err := st.Create(ctx, crm.Source{Team: "sales"}, engine.Record{Kind: "lead", Key: "access-table-bob", Fields: map[string]any{"title": "Bob", "person": map[string]any{"email": "bob@bobs-sales.io", "name": "Bob"}}})
	if err != nil || bob.Person == nil || bob.Organization == nil {
		t.Fatalf("bob: %+v, %v", bob, err)
	}
	ids := map[string]string{
		"people": bob.Person.ID, "organizations": bob.Organization.ID, "leads": lead[0].ID,
		"deals": deal.Record.ID, "tasks": task.Record.ID,
	}
	anon := &agentClient{t: t, ts: w.ts, http: &http.Client{Timeout: 30 * time.Second}}
	body := map[string]any{
		"text": "", "team": "", "card": "no-such-card", "until": "never", "agent": "no-such-agent",
		"to": "", "client_id": strings.Repeat("x", 101), "add": []string{}, "status": "nonsense",
		"phone": "12ab", "short": "", "on": false,
	}

	routes := w.ts.srv.Routes()
	seen := map[string]bool{}
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		if method == "echo_route_not_found" {
			continue
		}
		seen[r] = true
		scope, ok := accessTable[r]
		if !ok {
			t.Errorf("route %s has no row in accessTable: say who may use it", r)
			continue
		}
		if path == "/ws/agent" || scope == scopePublic {
			continue
		}
		url := strings.NewReplacer(":entry", note, "canned/:id", "canned/no-such-canned", ":file", "no-such-file").Replace(path)
		switch scope {
		case scopeConversation, scopeAuthor:
			url = strings.Replace(url, ":id", w.conv, 1)
		case scopeRecord:
			kind := strings.Split(path, "/")[2]
			url = strings.Replace(url, ":id", ids[kind], 1)
		case scopeSettings:
			// Nobody to change: an allowed request fails after the policy
			// (404 for no such agent or token, 400 for a team name that
			// cannot be, 501 for the test mail of a server without mail).
			url = strings.NewReplacer(":id", "no-such-id", ":name", "No-Such-Team").Replace(url)
		}
		t.Run(r, func(t *testing.T) {
			if code, b := anon.do(method, url, body); scope == scopeAdmin && code != 401 && code != 404 || scope != scopeAdmin && code != 401 {
				t.Errorf("signed out: %d %.120s, want 401", code, b)
			}
			if scope == scopeAdmin {
				if code, _ := w.admin.do(method, url, body); code != 401 && code != 404 {
					t.Errorf("an admin agent's session on the admin API: %d, want 401 or 404", code)
				}
				return
			}
			for _, who := range []struct {
				name    string
				ac      *agentClient
				allowed bool
			}{
				{"other team", w.sue, scope == scopeSelf},
				{"same team", w.kim, scope != scopeAuthor && scope != scopeStats && scope != scopeSettings},
				{"admin", w.admin, true},
				{"marketer", w.mia, scope == scopeSelf || scope == scopeStats},
			} {
				code, b := who.ac.do(method, url, body)
				if who.name == "other team" && carriesPrevious(b, w.conv) {
					t.Errorf("%s: %d %.300s names the sales chat as a previous conversation", who.name, code, b)
				}
				if who.name == "marketer" && (strings.Contains(string(b), w.conv) || strings.Contains(string(b), "ana@acme.io")) {
					t.Errorf("%s: %d %.300s shows the sales chat or its visitor", who.name, code, b)
				}
				switch {
				case code == 401:
					t.Errorf("%s: 401 %.120s", who.name, b)
				case who.allowed && code == 403:
					t.Errorf("%s: 403 %.120s, want allowed", who.name, b)
				case !who.allowed && code != 403:
					t.Errorf("%s: %d %.120s, want 403", who.name, code, b)
				}
			}
		})
	}
	for r := range accessTable {
		if !seen[r] {
			t.Errorf("accessTable has a row for %s, which is no route", r)
		}
	}
}

// liveSupportChat starts a widget conversation that follows the sales
// chat (start's previous: its token, as the widget's "start a new
// conversation" sends) and queues it for support: a chat with a session,
// listed in support's folders, whose previous list names the sales chat.
func (w *twoTeams) liveSupportChat(t *testing.T) string {
	t.Helper()
	v := dial(t, w.ts)
	v.send(map[string]any{"type": "start", "playbook": "qualify", "previous": w.token})
	conv := v.next("welcome")["conversation"].(string)
	v.bot("Hi! What brings you here?")
	if _, err := w.ts.srv.App().Inbox().Queue(context.Background(), conv, "support", "", ""); err != nil {
		t.Fatal(err)
	}
	return conv
}

// carriesPrevious reports whether the JSON body holds a "previous" list
// (of ids, or of conversations) that names conversation conv.
func carriesPrevious(body []byte, conv string) bool {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return false
	}
	return namesPrevious(v, conv)
}

func namesPrevious(v any, conv string) bool {
	switch x := v.(type) {
	case []any:
		return slices.ContainsFunc(x, func(e any) bool { return namesPrevious(e, conv) })
	case map[string]any:
		if prev, ok := x["previous"].([]any); ok {
			for _, p := range prev {
				if p == conv {
					return true
				}
				if m, ok := p.(map[string]any); ok && m["id"] == conv {
					return true
				}
			}
		}
		for _, e := range x {
			if namesPrevious(e, conv) {
				return true
			}
		}
	}
	return false
}

// agentFrameTypes reads the frame types /ws/agent accepts from the source
// of its read loop, so a frame added later without a row here fails.
func agentFrameTypes(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("agentws.go")
	if err != nil {
		t.Fatal(err)
	}
	s := string(src)
	i := strings.Index(s, "func (ac *agentConn) readLoop(")
	if i < 0 {
		t.Fatal("no readLoop in agentws.go")
	}
	body := s[i:]
	if j := strings.Index(body[1:], "\nfunc "); j >= 0 {
		body = body[:j+1]
	}
	// The read loop switches on the frames of package protocol.
	known := map[string]protocol.Frame{
		"Heartbeat": &protocol.Heartbeat{}, "Ping": &protocol.Ping{},
		"Follow": &protocol.Follow{}, "AgentTypingOn": &protocol.AgentTypingOn{},
	}
	var out []string
	for _, m := range regexp.MustCompile(`case \*protocol\.(\w+)`).FindAllStringSubmatch(body, -1) {
		f, ok := known[m[1]]
		if !ok {
			t.Fatalf("agentws.go's read loop handles protocol.%s: add it here and to the table below", m[1])
		}
		out = append(out, f.FrameType())
	}
	slices.Sort(out)
	return out
}

// TestEveryAgentFrameAsksTheAccessPolicy: every frame /ws/agent accepts ×
// {same team, other team, admin, signed out}.
func TestEveryAgentFrameAsksTheAccessPolicy(t *testing.T) {
	if got, want := agentFrameTypes(t), []string{"follow", "heartbeat", "ping", "typing"}; !slices.Equal(got, want) {
		t.Fatalf("/ws/agent accepts frames %v; the table below covers %v: add rows", got, want)
	}
	w := newTwoTeams(t)

	// Signed out: no socket at all.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := pbclient.DialAgent(ctx, w.ts.url, pbclient.Options{})
	if pbclient.StatusOf(err) != 401 {
		t.Fatalf("signed-out /ws/agent: %v", err)
	}

	watcher := w.sam.feed() // sees the typing that goes through
	watcher.send(map[string]any{"type": "follow", "conversation": w.conv})
	watcher.entryOf("note", "agent")
	for _, who := range []struct {
		name    string
		ac      *agentClient
		allowed bool
	}{
		{"other team", w.sue, false},
		{"same team", w.kim, true},
		{"admin", w.admin, true},
	} {
		t.Run(who.name, func(t *testing.T) {
			f := who.ac.feed()
			// ping and heartbeat: anyone signed in.
			f.send(map[string]any{"type": "heartbeat"})
			f.send(map[string]any{"type": "ping"})
			f.next("pong")
			// follow: the entries, or forbidden.
			f.send(map[string]any{"type": "follow", "conversation": w.conv})
			if who.allowed {
				if e := f.entryOf("note", "agent"); e["text"] != "SECRET-SALES-NOTE" {
					t.Fatalf("follow replayed %v", e)
				}
			} else if e := f.next("error"); e["code"] != "forbidden" {
				t.Fatalf("follow: %v, want a forbidden error", e)
			}
			// typing: reaches the conversation's followers only when allowed.
			f.send(map[string]any{"type": "typing", "conversation": w.conv, "on": true})
			f.send(map[string]any{"type": "ping"})
			f.next("pong") // the typing frame was handled (published or not)
			if who.allowed {
				frameUntil(t, watcher, func(map[string]any) bool { return false }, func(fr map[string]any) bool {
					return fr["type"] == "typing" && fr["author"] == who.ac.agent.Name && fr["on"] == true
				})
				return
			}
			// Refused: Kim's typing, sent after, arrives with nothing of
			// the other team's before it.
			w.kim.ok("POST", "/api/conversations/"+w.conv+"/typing", map[string]any{"on": false})
			frameUntil(t, watcher, func(fr map[string]any) bool {
				return fr["type"] == "typing" && fr["author"] == who.ac.agent.Name
			}, func(fr map[string]any) bool {
				return fr["type"] == "typing" && fr["author"] == "Kim" && fr["on"] == false
			})
		})
	}
	// Inbox events: a support chat that follows the sales chat (its
	// previous list names it) goes to support's and the admin's sockets;
	// only the admin's names the sales chat there.
	sue, ada := w.sue.feed(), w.admin.feed()
	for _, f := range []*client{sue, ada} {
		f.send(map[string]any{"type": "ping"})
		f.next("pong") // the socket follows the inbox channel
	}
	supp := w.liveSupportChat(t)
	if b := w.sue.ok("POST", "/api/conversations/"+supp+"/labels", map[string]any{"add": []string{"vip"}}); carriesPrevious(b, w.conv) {
		t.Errorf("support's labels answer names the sales chat as a previous conversation: %.300s", b)
	}
	names := func(fr map[string]any) bool {
		b, _ := json.Marshal(fr)
		return carriesPrevious(b, w.conv)
	}
	labelled := func(fr map[string]any) bool {
		c, _ := fr["conversation"].(map[string]any)
		labels, _ := c["labels"].([]any)
		return fr["type"] == "conversation" && c != nil && c["id"] == supp && slices.Contains(labels, any("vip"))
	}
	frameUntil(t, sue, names, labelled)
	frameUntil(t, ada, func(map[string]any) bool { return false }, func(fr map[string]any) bool { return labelled(fr) && names(fr) })
}
