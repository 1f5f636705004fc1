package conversation_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
)

// inboxWorld is an App with two agents of different teams: sam (sales)
// and sue (support).
type inboxWorld struct {
	app      *conversation.App
	svc      *conversation.Service
	sam, sue *conversation.Agent
}

func newInboxWorld(t *testing.T) *inboxWorld {
	t.Helper()
	app := newApp(t, conversation.Options{Presence: salesOnline{}, PasswordCost: bcrypt.MinCost})
	w := &inboxWorld{app: app, svc: app.Service()}
	ctx := context.Background()
	var err error
	if w.sam, err = app.Inbox().AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam", Teams: []string{"sales"}, Password: "sam-secret-1"}); err != nil {
		t.Fatal(err)
	}
	if w.sue, err = app.Inbox().AddAgent(ctx, handoff.NewAgent{Email: "sue@example.com", Name: "Sue", Teams: []string{"support"}, Password: "sue-secret-1"}); err != nil {
		t.Fatal(err)
	}
	return w
}

// deskChat starts a desk conversation (a handoff to sales) and returns its id.
func (w *inboxWorld) deskChat(t *testing.T) string {
	t.Helper()
	prog, ok := w.app.Registry().Current("desk")
	if !ok {
		t.Fatal("no desk playbook")
	}
	sess, _, err := w.svc.Start(context.Background(), conversation.StartRequest{Program: prog, Locale: "en"}, func(*engine.Session, store.Result) {})
	if err != nil {
		t.Fatal(err)
	}
	return sess.ID
}

// httpStatus is the HTTP status the transport answers err with.
func httpStatus(err error) int {
	if p := conversation.ProblemOf(err); p != nil {
		return p.Status
	}
	return http.StatusInternalServerError
}

func str(s string) *string { return &s }

// TestCannedResponsesFollowTheAccessPolicy: an agent lists only the
// canned responses of their teams, their own and shared ones; another
// team's id is not revealed (404, as for none), a shared one is read-only
// for agents (403), and a change of scope is refused (400).
func TestCannedResponsesFollowTheAccessPolicy(t *testing.T) {
	ctx := context.Background()
	w := newInboxWorld(t)
	team, err := w.svc.CreateCanned(ctx, w.sam, protocol.CannedRequest{Short: str("hi"), Text: str("Hello from sales")})
	if err != nil {
		t.Fatal(err)
	}
	if team.Scope != handoff.CannedTeam || team.Team != "sales" || !team.Editable {
		t.Fatalf("sam's default canned response is %+v; want sales' team one, editable", team)
	}
	mine, err := w.svc.CreateCanned(ctx, w.sue, protocol.CannedRequest{Short: str("me"), Text: str("Sue's own"), Scope: handoff.CannedPersonal})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.CreateCanned(ctx, w.sue, protocol.CannedRequest{Short: str("x"), Text: str("for sales"), Team: "sales"}); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("sue saves one for sales: %v; want access.ErrForbidden", err)
	}
	if _, err := w.svc.CreateCanned(ctx, w.sam, protocol.CannedRequest{Short: str("all"), Text: str("for all"), Scope: handoff.CannedShared}); !errors.Is(err, access.ErrForbidden) {
		t.Fatalf("sam (no admin) saves a shared one: %v; want access.ErrForbidden", err)
	}

	ids := func(a *conversation.Agent) []string {
		list, err := w.svc.CannedResponses(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range list {
			out = append(out, x.ID)
		}
		return out
	}
	if got := ids(w.sam); !slices.Equal(got, []string{team.ID}) {
		t.Errorf("sam lists %v; want only sales' %s", got, team.ID)
	}
	if got := ids(w.sue); !slices.Equal(got, []string{mine.ID}) {
		t.Errorf("sue lists %v; want only her own %s", got, mine.ID)
	}

	_, err = w.svc.UpdateCanned(ctx, w.sue, team.ID, protocol.CannedRequest{Text: str("hijacked")})
	_, errNone := w.svc.UpdateCanned(ctx, w.sue, "no-such-id", protocol.CannedRequest{Text: str("x")})
	if httpStatus(err) != http.StatusNotFound || httpStatus(errNone) != http.StatusNotFound || err.Error() != errNone.Error() {
		t.Errorf("sue changes sales' response: %v (%d); an unknown id: %v (%d); want the same 404", err, httpStatus(err), errNone, httpStatus(errNone))
	}
	if err := w.svc.DeleteCanned(ctx, w.sue, team.ID); httpStatus(err) != http.StatusNotFound {
		t.Errorf("sue deletes sales' response: %v; want 404", err)
	}
	if _, err := w.svc.UpdateCanned(ctx, w.sam, team.ID, protocol.CannedRequest{Scope: handoff.CannedPersonal}); httpStatus(err) != http.StatusBadRequest {
		t.Errorf("a change of scope: %v; want 400", err)
	}
	got, err := w.svc.UpdateCanned(ctx, w.sam, team.ID, protocol.CannedRequest{Text: str("Hello again")})
	if err != nil || got.Text != "Hello again" || got.Short != "hi" {
		t.Fatalf("sam's change: %+v, %v; want the new text and the short name kept", got, err)
	}
	if err := w.svc.DeleteCanned(ctx, w.sam, team.ID); err != nil {
		t.Fatal(err)
	}
	if got := ids(w.sam); len(got) != 0 {
		t.Errorf("after the delete sam lists %v", got)
	}
}

// TestAgentReadsAskTheAccessPolicy: the inbox's reads of a conversation
// (view, details, transcript as JSON and as text) answer only an agent of
// its team, and the agents' copy holds the private notes.
func TestAgentReadsAskTheAccessPolicy(t *testing.T) {
	ctx := context.Background()
	w := newInboxWorld(t)
	conv := w.deskChat(t)
	if _, err := w.svc.Note(ctx, w.sam, conv, "SECRET note for sales", "n1"); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func(a *conversation.Agent) error{
		"view":    func(a *conversation.Agent) error { _, err := w.svc.ConversationView(ctx, a, conv); return err },
		"details": func(a *conversation.Agent) error { _, err := w.svc.DetailsView(ctx, a, conv); return err },
		"transcript": func(a *conversation.Agent) error {
			_, err := w.svc.Transcript(ctx, a, conv, "")
			return err
		},
		"text": func(a *conversation.Agent) error { _, err := w.svc.TranscriptText(ctx, a, conv, ""); return err },
	}
	for name, read := range reads {
		if err := read(w.sue); !errors.Is(err, access.ErrForbidden) {
			t.Errorf("%s by support's sue: %v; want access.ErrForbidden", name, err)
		}
		if err := read(w.sam); err != nil {
			t.Errorf("%s by sales' sam: %v", name, err)
		}
	}
	entries, err := w.svc.Transcript(ctx, w.sam, conv, "")
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if last.Kind != "note" || last.Text != "SECRET note for sales" {
		t.Errorf("the transcript ends with %+v; want sam's note", last)
	}
	after, err := w.svc.Transcript(ctx, w.sam, conv, last.ID)
	if err != nil || len(after) != 0 {
		t.Errorf("entries after the last: %v, %v; want none", after, err)
	}
	text, err := w.svc.TranscriptText(ctx, w.sam, conv, "")
	if err != nil || !strings.Contains(text, "SECRET note for sales") {
		t.Errorf("the agents' text copy: %q, %v; want the note in it", text, err)
	}
	d, err := w.svc.DetailsView(ctx, w.sam, conv)
	if err != nil || d.Conversation.ID != conv || d.SessionStatus == nil || *d.SessionStatus != string(engine.StatusHandoff) {
		t.Errorf("details: %+v, %v", d, err)
	}
	list, err := w.svc.List(ctx, w.sam, "")
	if err != nil || len(list) != 1 || list[0].ID != conv {
		t.Errorf("sam's unassigned folder: %v, %v; want the chat", list, err)
	}
	if list, err := w.svc.List(ctx, w.sue, ""); err != nil || len(list) != 0 {
		t.Errorf("sue's unassigned folder: %v, %v; want nothing of sales'", list, err)
	}
}

// TestSignInAndOut: a session opened by SignIn answers Session until
// SignOut, which also sets the agent offline; an unknown API token or
// ended session is ErrSignedOut (401).
func TestSignInAndOut(t *testing.T) {
	ctx := context.Background()
	w := newInboxWorld(t)
	if _, err := w.svc.SignIn(ctx, "sam@example.com", "wrong-password", "127.0.0.1"); httpStatus(err) != http.StatusUnauthorized {
		t.Fatalf("a wrong password: %v; want 401", err)
	}
	sess, err := w.svc.SignIn(ctx, "sam@example.com", "sam-secret-1", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Token == "" || sess.CSRF == "" || sess.Agent.ID != w.sam.ID {
		t.Fatalf("session %+v", sess)
	}
	got, err := w.svc.Session(ctx, sess.Token)
	if err != nil || got.CSRF != sess.CSRF || got.Agent.ID != w.sam.ID {
		t.Fatalf("Session: %+v, %v", got, err)
	}
	if err := w.svc.SetPresence(ctx, w.sam, protocol.Online); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.SetPresence(ctx, w.sam, "asleep"); httpStatus(err) != http.StatusBadRequest {
		t.Errorf("presence asleep: %v; want 400", err)
	}
	if me, err := w.svc.Me(ctx, w.sam); err != nil || me.Presence != protocol.Online || me.Agent.Email != "sam@example.com" {
		t.Fatalf("Me: %+v, %v", me, err)
	}
	w.svc.SignOut(ctx, sess.Token)
	if _, err := w.svc.Session(ctx, sess.Token); !errors.Is(err, conversation.ErrSignedOut) || httpStatus(err) != http.StatusUnauthorized {
		t.Errorf("the session after SignOut: %v; want ErrSignedOut (401)", err)
	}
	if me, err := w.svc.Me(ctx, w.sam); err != nil || me.Presence != protocol.Offline {
		t.Errorf("after SignOut: %+v, %v; want offline", me, err)
	}
	if _, err := w.svc.AgentByAPIToken(ctx, "no-such-token"); !errors.Is(err, conversation.ErrSignedOut) {
		t.Errorf("an unknown API token: %v; want ErrSignedOut", err)
	}
	if conversation.SessionHash(sess.Token) == sess.Token || len(conversation.SessionHash(sess.Token)) != 64 {
		t.Error("the session's name on the inbox channel is not a hash of its token")
	}
}
