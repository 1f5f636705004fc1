package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/handoff"
)

// Agents runs the conformance tests of agents, sign-ins, API tokens and
// the login limits (counted atomically across instances).
func Agents(t *testing.T, open InboxOpener) {
	t.Run("SignIn", func(t *testing.T) { testSignIn(t, open) })
	t.Run("LoginLimit", func(t *testing.T) { testLoginLimit(t, open) })
	t.Run("AddRace", func(t *testing.T) { testAddRace(t, open) })
	t.Run("Administration", func(t *testing.T) { testAdministration(t, open) })
	t.Run("APITokens", func(t *testing.T) { testAPITokens(t, open) })
	t.Run("TeamSettings", func(t *testing.T) { testTeamSettings(t, open) })
}

// testTeamSettings: a team an admin creates (a config, no agent, no
// folder yet) is listed on the other instance, with its opening hours.
func testTeamSettings(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	want := handoff.TeamConfig{Routing: handoff.LeastBusy, Capacity: 4, Reopen: handoff.ReopenAllowed, Hours: "mon-fri 09:00-18:00 Europe/Berlin"}
	if err := s.SetTeamConfig(ctx, "night-shift", want); err != nil {
		t.Fatal(err)
	}
	if got, err := s2.TeamConfigOf(ctx, "night-shift"); err != nil || got != want {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	if teams, err := s2.AllTeams(ctx); err != nil || !slices.Contains(teams, "night-shift") {
		t.Fatalf("listed teams %v, %v: want night-shift", teams, err)
	}
	want.Hours = ""
	if err := s2.SetTeamConfig(ctx, "night-shift", want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.TeamConfigOf(ctx, "night-shift"); err != nil || got.Hours != "" {
		t.Fatalf("hours cleared: %+v, %v", got, err)
	}
}

// testAdministration: an admin's changes to an agent, seen by the other
// instance at once: disabling ends every session and refuses sign-in and
// API tokens; enabling lets them sign in again but brings no old session
// back; a password reset ends the sessions; removing frees the email.
func testAdministration(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	sess, err := s.Login(ctx, "sam@example.com", "correct horse", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := s.NewAPIToken(ctx, sam.ID, "script", 0)
	if err != nil {
		t.Fatal(err)
	}
	name, teams, role := "Sam Lee", []string{"sales", "support"}, handoff.RoleAdmin
	if a, err := s2.UpdateAgent(ctx, sam.ID, handoff.AgentChange{Name: &name, Teams: &teams, Role: &role}); err != nil || a.Name != "Sam Lee" || a.Email != "sam@example.com" {
		t.Fatalf("update: %+v %v", a, err)
	}
	if got, err := s.SessionByToken(ctx, sess.Token); err != nil || got.Agent.Name != "Sam Lee" || len(got.Agent.Teams) != 2 || got.Agent.Role != handoff.RoleAdmin {
		t.Fatalf("the session after an update: %+v %v (the session stays, the agent changes)", got, err)
	}
	bad := "Sales Team"
	if _, err := s2.UpdateAgent(ctx, sam.ID, handoff.AgentChange{Teams: &[]string{bad}}); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("bad team: %v", err)
	}
	if _, err := s2.UpdateAgent(ctx, "nobody", handoff.AgentChange{Name: &name}); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("update nobody: %v", err)
	}

	if a, err := s2.SetDisabled(ctx, sam.ID, true); err != nil || !a.Disabled {
		t.Fatalf("disable: %+v %v", a, err)
	}
	if _, err := s.SessionByToken(ctx, sess.Token); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a disabled agent's session: %v", err)
	}
	if _, err := s.AgentByAPIToken(ctx, tok); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a disabled agent's API token: %v", err)
	}
	if _, err := s.Login(ctx, "sam@example.com", "correct horse", "127.0.0.2"); !errors.Is(err, handoff.ErrDisabled) {
		t.Fatalf("a disabled agent signs in: %v", err)
	}
	if _, err := s.Login(ctx, "sam@example.com", "wrong horse", "127.0.0.2"); !errors.Is(err, handoff.ErrBadPassword) {
		t.Fatalf("a wrong password of a disabled agent: %v, want the usual answer", err)
	}
	if all, _ := s.Agents(ctx); len(all) != 1 || !all[0].Disabled {
		t.Fatalf("the list shows %+v, want sam disabled", all)
	}
	if a, err := s2.SetDisabled(ctx, sam.ID, false); err != nil || a.Disabled {
		t.Fatalf("enable: %+v %v", a, err)
	}
	if _, err := s.SessionByToken(ctx, sess.Token); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("enabled again: the session from before came back: %v", err)
	}
	if a, err := s.AgentByAPIToken(ctx, tok); err != nil || a.ID != sam.ID {
		t.Fatalf("enabled again: the API token: %v %v", a, err)
	}
	sess, err = s.Login(ctx, "sam@example.com", "correct horse", "127.0.0.3")
	if err != nil {
		t.Fatalf("enabled again: %v", err)
	}

	if _, err := s2.ResetPassword(ctx, sam.ID, "short"); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("a short password: %v", err)
	}
	if _, err := s2.ResetPassword(ctx, sam.ID, "battery staple"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, sess.Token); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("the session after a password reset: %v", err)
	}
	if _, err := s.Login(ctx, "sam@example.com", "correct horse", "127.0.0.4"); !errors.Is(err, handoff.ErrBadPassword) {
		t.Fatalf("the old password: %v", err)
	}
	if _, err := s.Login(ctx, "sam@example.com", "battery staple", "127.0.0.4"); err != nil {
		t.Fatalf("the new password: %v", err)
	}

	if err := s2.RemoveAgent(ctx, sam.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Agent(ctx, sam.ID); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a removed agent: %v", err)
	}
	if _, err := s.AgentByAPIToken(ctx, tok); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a removed agent's API token: %v", err)
	}
	if list, _ := s.APITokens(ctx); len(list) != 0 {
		t.Fatalf("tokens left after removing their agent: %+v", list)
	}
	if all, _ := s.Agents(ctx); len(all) != 0 {
		t.Fatalf("agents after removing sam: %+v", all)
	}
	if err := s2.RemoveAgent(ctx, sam.ID); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("removed twice: %v", err)
	}
	if _, err := s.AddAgent(ctx, handoff.NewAgent{Email: "sam@example.com", Name: "Sam again", Password: "12345678"}); err != nil {
		t.Fatalf("the email of a removed agent: %v", err)
	}
}

// testAPITokens: tokens are listed (by hash, never in clear), expire on
// the other instance at the clock's time, and a revoked one is refused
// at once.
func testAPITokens(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	short, st, err := s.NewAPIToken(ctx, sam.ID, "nightly export", time.Hour)
	if err != nil || st.Name != "nightly export" || !st.Expires.Equal(st.Created.Add(time.Hour)) {
		t.Fatalf("new token: %+v %v", st, err)
	}
	clk.Advance(time.Second)
	long, lt, err := s.NewAPIToken(ctx, sam.ID, "", 0)
	if err != nil || !lt.Expires.IsZero() {
		t.Fatalf("a token without expiry: %+v %v", lt, err)
	}
	if _, _, err := s.NewAPIToken(ctx, sam.ID, "", -time.Hour); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("a negative lifetime: %v", err)
	}
	list, err := s2.APITokens(ctx)
	if err != nil || len(list) != 2 || list[0].ID != lt.ID || list[1].ID != st.ID || list[1].Agent != sam.ID || list[1].Name != "nightly export" {
		t.Fatalf("tokens = %+v, %v; want the newest first", list, err)
	}
	for _, l := range list {
		if l.ID == short || l.ID == long {
			t.Fatal("a token is listed in clear")
		}
	}
	if _, err := s2.AgentByAPIToken(ctx, short); err != nil {
		t.Fatalf("before its expiry: %v", err)
	}
	clk.Advance(time.Hour)
	if _, err := s2.AgentByAPIToken(ctx, short); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("after its expiry: %v", err)
	}
	if err := s.RevokeAPIToken(ctx, lt.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s2.AgentByAPIToken(ctx, long); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a revoked token: %v", err)
	}
	if err := s2.RevokeAPIToken(ctx, lt.ID); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("revoked twice: %v", err)
	}
	if list, _ := s.APITokens(ctx); len(list) != 1 || list[0].ID != st.ID {
		t.Fatalf("tokens after a revocation: %+v", list)
	}
}

func testSignIn(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales", "support")
	if sam.Email != "sam@example.com" || sam.Role != handoff.RoleAgent {
		t.Fatalf("added %+v", sam)
	}
	if _, err := s.AddAgent(ctx, handoff.NewAgent{Email: "SAM@example.com", Name: "Sam 2", Password: "12345678"}); !errors.Is(err, handoff.ErrExists) {
		t.Fatalf("duplicate email: %v", err)
	}
	for _, bad := range []handoff.NewAgent{
		{Email: "x@example.com", Name: "X", Password: "short"},
		{Email: "not an email", Name: "X", Password: "12345678"},
		{Email: "x@example.com", Name: " ", Password: "12345678"},
		{Email: "x@example.com", Name: "X", Password: "12345678", Role: "root"},
		{Email: "x@example.com", Name: "X", Password: "12345678", Teams: []string{"Sales Team"}},
	} {
		if _, err := s.AddAgent(ctx, bad); !errors.Is(err, handoff.ErrInvalid) {
			t.Fatalf("%+v: %v, want ErrInvalid", bad, err)
		}
	}
	boss := addAgent(t, s, "boss", handoff.RoleAdmin)
	all, err := s2.Agents(ctx)
	if err != nil || len(all) != 2 || all[0].ID != boss.ID || all[1].ID != sam.ID {
		t.Fatalf("agents = %v, %v; want boss and sam by name", all, err)
	}
	if got, err := s2.Agent(ctx, sam.ID); err != nil || got.Name != "sam" || len(got.Teams) != 2 {
		t.Fatalf("agent by id %+v, %v", got, err)
	}
	if _, err := s2.Agent(ctx, "nobody"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
	if got, err := s2.AgentByEmail(ctx, " Sam@Example.COM "); err != nil || got.ID != sam.ID {
		t.Fatalf("agent by email %+v, %v", got, err)
	}
	if got, err := s2.AgentByName(ctx, "Sam"); err != nil || got.ID != sam.ID {
		t.Fatalf("agent by mention %+v, %v", got, err)
	}
	if teams, err := s2.Teams(ctx); err != nil || fmt.Sprint(teams) != "[sales support]" {
		t.Fatalf("teams %v, %v", teams, err)
	}
	sess, err := s.Login(ctx, "Sam@Example.com", "correct horse", "127.0.0.1")
	if err != nil || sess.Agent.ID != sam.ID || sess.CSRF == "" {
		t.Fatalf("login: %+v %v", sess, err)
	}
	got, err := s2.SessionByToken(ctx, sess.Token)
	if err != nil || got.Agent.ID != sam.ID || got.CSRF != sess.CSRF {
		t.Fatalf("session lookup on the other instance: %+v %v", got, err)
	}
	if _, err := s2.SessionByToken(ctx, sess.Token+"x"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("forged session: %v", err)
	}
	if err := s2.Logout(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SessionByToken(ctx, sess.Token); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("session after logout: %v", err)
	}
	if _, err := s.Login(ctx, "nobody@example.com", "correct horse", "127.0.0.1"); !errors.Is(err, handoff.ErrBadPassword) {
		t.Fatalf("unknown email: %v", err)
	}
	tok, _, err := s.NewAPIToken(ctx, sam.ID, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := s2.AgentByAPIToken(ctx, tok); err != nil || a.ID != sam.ID {
		t.Fatalf("api token: %v %v", a, err)
	}
	if _, err := s2.AgentByAPIToken(ctx, tok+"x"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("forged api token: %v", err)
	}
	if _, _, err := s.NewAPIToken(ctx, "nobody", "", 0); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("a token for nobody: %v", err)
	}
}

// testLoginLimit: 5 wrong passwords for one account within a minute
// lock it, even for the right password; 20 parallel attempts from one
// address on two instances let through exactly LoginPerEmail per email
// counted; a successful sign-in gives its attempt back.
func testLoginLimit(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	addAgent(t, s, "sam", handoff.RoleAgent, "sales")
	addAgent(t, s, "kim", handoff.RoleAgent, "sales")
	// Successful sign-ins do not count.
	for range handoff.LoginPerEmail + 2 {
		if _, err := s.Login(ctx, "kim@example.com", "correct horse", "10.0.0.9"); err != nil {
			t.Fatalf("kim signs in again: %v", err)
		}
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[error]int{}
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []*handoff.Store{s, s2}[i%2]
			_, err := st.Login(ctx, "SAM@example.com", "wrong", "10.0.0.1")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, handoff.ErrBadPassword):
				counts[handoff.ErrBadPassword]++
			case errors.Is(err, handoff.ErrTooMany):
				counts[handoff.ErrTooMany]++
			default:
				t.Errorf("attempt: %v", err)
			}
		}()
	}
	wg.Wait()
	if counts[handoff.ErrBadPassword] != handoff.LoginPerEmail || counts[handoff.ErrTooMany] != 12-handoff.LoginPerEmail {
		t.Fatalf("12 parallel wrong attempts: %v, want %d wrong password and the rest too many", counts, handoff.LoginPerEmail)
	}
	if _, err := s.Login(ctx, "sam@example.com", "correct horse", "10.0.0.2"); !errors.Is(err, handoff.ErrTooMany) {
		t.Fatalf("the right password after the limit: %v, want ErrTooMany", err)
	}
	// The address limit: other emails from 10.0.0.1. Attempts refused by
	// the email's limit did not reach the address's count: 5 counted.
	n := 0
	for i := range 20 {
		_, err := s2.Login(ctx, fmt.Sprintf("x%d@example.com", i), "wrong", "10.0.0.1")
		if errors.Is(err, handoff.ErrTooMany) {
			break
		}
		n++
	}
	if n != handoff.LoginPerAddress-handoff.LoginPerEmail {
		t.Fatalf("%d more attempts from the address, want %d", n, handoff.LoginPerAddress-handoff.LoginPerEmail)
	}
}

// testAddRace: the same email added on two instances at once makes one
// agent, listed once.
func testAddRace(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	for i := range 20 {
		email := fmt.Sprintf("a%d@example.com", i)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for j, st := range []*handoff.Store{s, s2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[j] = st.AddAgent(ctx, handoff.NewAgent{Email: email, Name: "A", Password: "correct horse", Teams: []string{"sales"}})
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			if err == nil {
				ok++
			} else if !errors.Is(err, handoff.ErrExists) {
				t.Fatal(err)
			}
		}
		if ok != 1 {
			t.Fatalf("%s added %d times: %v", email, ok, errs)
		}
	}
	all, err := s.Agents(ctx)
	if err != nil || len(all) != 20 {
		t.Fatalf("%d agents, %v; want 20", len(all), err)
	}
}

// Presence runs the conformance tests of presence: heartbeats keep an
// online agent online for the timeout and no longer, per team, seen the
// same from every instance.
func Presence(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, clk := inboxes(t, open, handoff.Options{})
	sam := addAgent(t, s, "sam", handoff.RoleAgent, "sales", "support")
	kim := addAgent(t, s, "kim", handoff.RoleAgent, "sales")
	count := func() map[string]int {
		t.Helper()
		n, err := s2.OnlineCount(ctx, []string{"sales", "support", "billing"})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	presence := func(a *handoff.Agent) handoff.Presence {
		t.Helper()
		p, err := s2.PresenceOf(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	if n := count(); n["sales"] != 0 || presence(sam) != handoff.Offline {
		t.Fatalf("online before sign-in: %v", n)
	}
	if err := s.SetPresence(ctx, sam, "busy"); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("presence busy: %v", err)
	}
	if err := s.SetPresence(ctx, sam, handoff.Online); err != nil {
		t.Fatal(err)
	}
	if n := count(); n["sales"] != 1 || n["support"] != 1 || n["billing"] != 0 {
		t.Fatalf("online = %v", n)
	}
	if p := presence(sam); p != handoff.Online {
		t.Fatalf("presence of sam = %s", p)
	}
	clk.Advance(20 * time.Second)
	if err := s.Heartbeat(ctx, sam); err != nil {
		t.Fatal(err)
	}
	clk.Advance(20 * time.Second)
	if n := count(); n["sales"] != 1 {
		t.Fatalf("a heartbeat 20s ago should keep sam online: %v", n)
	}
	if ids, err := s2.OnlineAgents(ctx, "sales"); err != nil || len(ids) != 1 || ids[0] != sam.ID {
		t.Fatalf("online agents %v, %v", ids, err)
	}
	clk.Advance(11 * time.Second) // 31s since the last heartbeat
	if n := count(); n["sales"] != 0 {
		t.Fatalf("sam still online 31s after the last heartbeat: %v", n)
	}
	if p := presence(sam); p != handoff.Offline {
		t.Fatalf("presence of a silent agent = %s", p)
	}
	if ids, _ := s2.OnlineAgents(ctx, "sales"); len(ids) != 0 {
		t.Fatalf("online agents of a silent team: %v", ids)
	}
	if err := s.Heartbeat(ctx, sam); err != nil { // the browser is back
		t.Fatal(err)
	}
	if p := presence(sam); p != handoff.Online {
		t.Fatalf("presence after a late heartbeat = %s", p)
	}
	s.SetPresence(ctx, kim, handoff.Online)
	if n := count(); n["sales"] != 2 {
		t.Fatalf("sam and kim: %v", n)
	}
	s.SetPresence(ctx, sam, handoff.Away)
	s.Heartbeat(ctx, sam)
	if n := count(); n["sales"] != 1 || n["support"] != 0 {
		t.Fatalf("an away agent counts as online: %v", n)
	}
	if p := presence(sam); p != handoff.Away {
		t.Fatalf("presence = %s, want away", p)
	}
	s.SetPresence(ctx, kim, handoff.Offline)
	if n := count(); n["sales"] != 0 {
		t.Fatalf("an offline agent counts as online: %v", n)
	}
}

// Canned runs the conformance tests of canned responses: unique short
// names per scope, update and delete, and concurrent changes.
func Canned(t *testing.T, open InboxOpener) {
	ctx := context.Background()
	s, s2, _ := inboxes(t, open, handoff.Options{})
	mk := func(c handoff.Canned) (*handoff.Canned, error) { return s.CreateCanned(ctx, c) }
	hi, err := mk(handoff.Canned{Short: "/Hi There", Text: "Hello!", Scope: handoff.CannedTeam, Team: "sales"})
	if err != nil || hi.Short != "hi-there" || hi.ID == "" {
		t.Fatalf("create: %+v, %v", hi, err)
	}
	if _, err := mk(handoff.Canned{Short: "hi-there", Text: "again", Scope: handoff.CannedTeam, Team: "sales"}); !errors.Is(err, handoff.ErrExists) {
		t.Fatalf("same short name in the same team: %v", err)
	}
	other, err := mk(handoff.Canned{Short: "hi-there", Text: "Hola", Scope: handoff.CannedTeam, Team: "support"})
	if err != nil {
		t.Fatalf("same short name in another team: %v", err)
	}
	mine, err := mk(handoff.Canned{Short: "sig", Text: "Sam", Scope: handoff.CannedPersonal, Owner: "sam-id"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mk(handoff.Canned{Short: "bad name!", Text: "x", Scope: handoff.CannedShared}); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("a bad short name: %v", err)
	}
	all, err := s2.CannedResponses(ctx)
	if err != nil || len(all) != 3 || all[0].Short != "hi-there" || all[2].ID != mine.ID {
		t.Fatalf("all = %v, %v", all, err)
	}
	if got, err := s2.CannedByID(ctx, other.ID); err != nil || got.Text != "Hola" || got.Team != "support" {
		t.Fatalf("by id: %+v, %v", got, err)
	}
	if _, err := s2.CannedByID(ctx, "cr_nope"); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	up, err := s2.UpdateCanned(ctx, hi.ID, "greet", "Hello there!")
	if err != nil || up.Short != "greet" || up.Scope != handoff.CannedTeam || up.Team != "sales" {
		t.Fatalf("update: %+v, %v", up, err)
	}
	// The old short name is free again; the new one is taken.
	if _, err := mk(handoff.Canned{Short: "hi-there", Text: "again", Scope: handoff.CannedTeam, Team: "sales"}); err != nil {
		t.Fatalf("the old short name after a rename: %v", err)
	}
	if _, err := s.UpdateCanned(ctx, other.ID, "sig", "x"); err != nil {
		t.Fatalf("support's canned takes a short name of a personal list: %v", err)
	}
	if _, err := s.UpdateCanned(ctx, hi.ID, "hi-there", "x"); !errors.Is(err, handoff.ErrExists) {
		t.Fatalf("renaming onto a taken short name: %v", err)
	}
	if _, err := s.UpdateCanned(ctx, hi.ID, "greet", " "); !errors.Is(err, handoff.ErrInvalid) {
		t.Fatalf("an empty text: %v", err)
	}
	// Parallel edits of one canned response: each lands whole.
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := []*handoff.Store{s, s2}[i%2]
			if _, err := st.UpdateCanned(ctx, mine.ID, "sig", fmt.Sprint("text ", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := s.CannedByID(ctx, mine.ID); got == nil || got.Short != "sig" || got.Owner != "sam-id" {
		t.Fatalf("after parallel edits: %+v", got)
	}
	if err := s2.DeleteCanned(ctx, hi.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCanned(ctx, hi.ID); !errors.Is(err, handoff.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	if _, err := mk(handoff.Canned{Short: "greet", Text: "back", Scope: handoff.CannedTeam, Team: "sales"}); err != nil {
		t.Fatalf("a deleted one's short name: %v", err)
	}
}
