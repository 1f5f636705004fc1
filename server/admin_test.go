package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/internal/servertest"
	"github.com/playbook-dev/playbook/server"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// signInWith signs in with a password and answers the status and client.
func signInWith(t *testing.T, ts *testServer, email, password string) (int, []byte, *agentClient) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	ac := &agentClient{t: t, ts: ts, http: &http.Client{Jar: jar, Timeout: time.Minute}, agent: &handoff.Agent{Email: email}}
	code, body := ac.do("POST", "/api/auth/login", map[string]any{"email": email, "password": password})
	var out struct{ CSRF string }
	json.Unmarshal(body, &out)
	ac.csrf = out.CSRF
	return code, body, ac
}

func wantError(t *testing.T, what string, code int, body []byte, wantCode int, wantText string) {
	t.Helper()
	if code != wantCode || !strings.Contains(string(body), wantText) {
		t.Fatalf("%s: %d %s, want %d with %q", what, code, body, wantCode, wantText)
	}
}

// TestAdminInvitesAndDisablesAnAgent: an admin invites Bob (his password
// shown once and mailed to him); Bob signs in with it and opens his live
// feed; the admin disables him: the feed closes at once as signed out,
// his session is refused, and he cannot sign in again until enabled; a
// password reset ends the sessions again. Agents get 403, unknown agents
// 404, bad bodies 400 with the reason.
func TestAdminInvitesAndDisablesAnAgent(t *testing.T) {
	rds := redistest.New(t)
	ts, smtp := smtpServer(t, rds)
	adm, err := ts.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: "ada@example.com", Name: "Ada", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, ts, adm)
	sam := signIn(t, ts, addAgent(t, ts, "Sam", "sales"))

	var invited struct {
		Agent    struct{ ID, Email string }
		Password string
		Mailed   bool
	}
	code, b := admin.do("POST", "/api/admin/agents", map[string]any{"email": "Bob@Example.com", "name": "Bob", "teams": []string{"sales"}})
	if code != 201 {
		t.Fatalf("invite: %d %s", code, b)
	}
	json.Unmarshal(b, &invited)
	if invited.Agent.Email != "bob@example.com" || len(invited.Password) < 12 || !invited.Mailed {
		t.Fatalf("invited %s", b)
	}
	if mails := mailTo(smtp, "bob@example.com"); len(mails) != 1 || !strings.Contains(mails[0], invited.Password) || !strings.Contains(mails[0], ts.url+"/inbox") {
		t.Fatalf("the invitation mail: %q", mails)
	}
	code, b = admin.do("POST", "/api/admin/agents", map[string]any{"email": "bob@example.com", "name": "Bob again"})
	wantError(t, "invite the same email", code, b, 409, "bob@example.com")
	code, b = admin.do("POST", "/api/admin/agents", map[string]any{"email": "not an email", "name": "X"})
	wantError(t, "invite a bad email", code, b, 400, "email")
	code, b = admin.do("POST", "/api/admin/agents", "{")
	wantError(t, "invite with a body that is no object", code, b, 400, "not valid JSON")
	code, b = sam.do("POST", "/api/admin/agents", map[string]any{"email": "eve@example.com", "name": "Eve"})
	wantError(t, "an agent invites", code, b, 403, "only admins")
	if _, err := ts.srv.App().Inbox().AgentByEmail(context.Background(), "eve@example.com"); err == nil {
		t.Fatal("an agent's refused invitation created Eve")
	}

	code, _, bob := signInWith(t, ts, "bob@example.com", invited.Password)
	if code != 200 {
		t.Fatalf("Bob signs in with the invitation's password: %d", code)
	}
	bob.ok("GET", "/api/me", nil)
	feed, closed := longFeed(t, bob)
	_ = feed

	code, b = sam.do("POST", "/api/admin/agents/"+invited.Agent.ID+"/disable", nil)
	wantError(t, "an agent disables Bob", code, b, 403, "only admins")
	code, b = admin.do("POST", "/api/admin/agents/no-such-agent/disable", nil)
	wantError(t, "disable nobody", code, b, 404, "not found")
	code, b = admin.do("POST", "/api/admin/agents/"+adm.ID+"/disable", nil)
	wantError(t, "the admin disables herself", code, b, 400, "cannot disable or remove yourself")

	b = admin.ok("POST", "/api/admin/agents/"+invited.Agent.ID+"/disable", nil)
	if !strings.Contains(string(b), `"disabled":true`) {
		t.Fatalf("disable answered %s", b)
	}
	select {
	case err := <-closed:
		if websocket.CloseStatus(err) != 4001 {
			t.Errorf("Bob's feed closed with %v, want status 4001 (signed out)", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Bob's /ws/agent is still open 60 s after he was disabled")
	}
	code, b = bob.do("GET", "/api/me", nil)
	wantError(t, "a disabled agent's session", code, b, 401, "sign in again")
	code, b, _ = signInWith(t, ts, "bob@example.com", invited.Password)
	wantError(t, "a disabled agent signs in", code, b, 403, "disabled")
	var list []struct {
		ID       string
		Disabled bool
	}
	json.Unmarshal(admin.ok("GET", "/api/admin/agents", nil), &list)
	disabled := 0
	for _, a := range list {
		if a.Disabled {
			disabled++
			if a.ID != invited.Agent.ID {
				t.Errorf("%s is disabled", a.ID)
			}
		}
	}
	if len(list) != 3 || disabled != 1 {
		t.Fatalf("the admin's list: %+v", list)
	}

	admin.ok("POST", "/api/admin/agents/"+invited.Agent.ID+"/enable", nil)
	code, b, bob = signInWith(t, ts, "bob@example.com", invited.Password)
	if code != 200 {
		t.Fatalf("enabled again, Bob signs in: %d %s", code, b)
	}
	var reset struct{ Password string }
	json.Unmarshal(admin.ok("POST", "/api/admin/agents/"+invited.Agent.ID+"/password", nil), &reset)
	code, b = bob.do("GET", "/api/me", nil)
	wantError(t, "the session after a password reset", code, b, 401, "sign in again")
	code, _, bob = signInWith(t, ts, "bob@example.com", reset.Password)
	if code != 200 || reset.Password == invited.Password {
		t.Fatalf("the new password: %d", code)
	}
	bob.ok("PUT", "/api/me/presence", map[string]any{"status": "online"})
	if mails := mailTo(smtp, "bob@example.com"); len(mails) != 2 || !strings.Contains(mails[1], reset.Password) {
		t.Fatalf("the reset mail: %d mails", len(mails))
	}

	b = admin.ok("PUT", "/api/admin/agents/"+invited.Agent.ID, map[string]any{"teams": []string{"sales", "support"}})
	if !strings.Contains(string(b), `"teams":["sales","support"]`) {
		t.Fatalf("update answered %s", b)
	}
	code, b = admin.do("PUT", "/api/admin/agents/"+invited.Agent.ID, map[string]any{"role": "root"})
	wantError(t, "a role that is none", code, b, 400, "role must be agent, admin or marketer")

	admin.ok("DELETE", "/api/admin/agents/"+invited.Agent.ID, nil)
	if online, err := ts.srv.App().Inbox().OnlineAgents(context.Background(), "sales"); err != nil || slices.Contains(online, invited.Agent.ID) {
		t.Fatalf("online in sales after Bob's removal: %v, %v (no chat may be routed to him)", online, err)
	}
	code, b = admin.do("DELETE", "/api/admin/agents/"+invited.Agent.ID, nil)
	wantError(t, "remove twice", code, b, 404, "not found")
	code, _, _ = signInWith(t, ts, "bob@example.com", reset.Password)
	if code != 401 {
		t.Fatalf("a removed agent signs in: %d", code)
	}
}

// TestAdminTokens: a token made in Settings works at once, is listed
// without the token, and stops at once when revoked; one past its expiry
// is refused; bad lifetimes and agents are 400.
func TestAdminTokens(t *testing.T) {
	rds := redistest.New(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	ts := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) {
		c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	})
	adm, err := ts.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: "ada@example.com", Name: "Ada", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, ts, adm)
	samAgent := addAgent(t, ts, "Sam", "sales")
	sam := signIn(t, ts, samAgent)

	var made struct {
		Token string
		Info  struct {
			ID      string
			Expires *time.Time
		}
	}
	code, b := admin.do("POST", "/api/admin/tokens", map[string]any{"agent": samAgent.ID, "name": "export", "expires_in_days": 30})
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	json.Unmarshal(b, &made)
	if !strings.HasPrefix(made.Token, "pbt_") || made.Info.Expires == nil || !made.Info.Expires.Equal(now.Add(30*24*time.Hour)) {
		t.Fatalf("made %s", b)
	}
	bearer := func(tok string) int {
		req, _ := http.NewRequest("GET", ts.url+"/api/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := bearer(made.Token); code != 200 {
		t.Fatalf("the new token: %d", code)
	}
	list := admin.ok("GET", "/api/admin/tokens", nil)
	if strings.Contains(string(list), made.Token) || !strings.Contains(string(list), made.Info.ID) || !strings.Contains(string(list), `"agent_name":"Sam"`) {
		t.Fatalf("the list: %s", list)
	}
	for _, bad := range []map[string]any{
		{"agent": samAgent.ID, "expires_in_days": -1},
		{"agent": samAgent.ID, "expires_in_days": 5000},
	} {
		code, b := admin.do("POST", "/api/admin/tokens", bad)
		wantError(t, "a bad lifetime", code, b, 400, "expires_in_days")
	}
	code, b = admin.do("POST", "/api/admin/tokens", map[string]any{"agent": "nobody"})
	wantError(t, "a token for nobody", code, b, 400, "names no agent")
	code, b = sam.do("GET", "/api/admin/tokens", nil)
	wantError(t, "an agent lists tokens", code, b, 403, "only admins")

	clock.Store(now.Add(30*24*time.Hour + time.Second).UnixNano())
	if code := bearer(made.Token); code != 401 {
		t.Fatalf("a token past its expiry: %d, want 401", code)
	}
	if !strings.Contains(string(admin.ok("GET", "/api/admin/tokens", nil)), `"expired":true`) {
		t.Fatal("the list does not say the token expired")
	}

	code, b = admin.do("POST", "/api/admin/tokens", map[string]any{"agent": samAgent.ID, "name": "forever"})
	made.Info.Expires = nil
	json.Unmarshal(b, &made)
	if code != 201 || made.Info.Expires != nil || bearer(made.Token) != 200 {
		t.Fatalf("a token without expiry: %+v", made.Info)
	}
	admin.ok("DELETE", "/api/admin/tokens/"+made.Info.ID, nil)
	if code := bearer(made.Token); code != 401 {
		t.Fatalf("a revoked token: %d, want 401", code)
	}
	code, b = admin.do("DELETE", "/api/admin/tokens/"+made.Info.ID, nil)
	wantError(t, "revoke twice", code, b, 404, "not found")
}

// TestAdminTeamHoursReachEveryProcess: two processes over one Redis. An
// admin on the first gives the night team opening hours; open_hours() of
// a conversation on the second follows them (before: no hours, open;
// after: Saturdays only, closed on a Wednesday). Routing and capacity are
// read back; bad hours and names are 400 with the reason.
func TestAdminTeamHoursReachEveryProcess(t *testing.T) {
	rds := redistest.New(t)
	dir := t.TempDir()
	pb := `playbook: check
cards:
  start:
    say: Checking.
    branch:
      - if: open_hours("night")
        goto: open
      - goto: closed
  open:
    say: night is open
    end: open
  closed:
    say: night is closed
    end: closed
`
	if err := os.WriteFile(filepath.Join(dir, "check.yaml"), []byte(pb), 0o644); err != nil {
		t.Fatal(err)
	}
	wednesdayNoon := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	at := func(c *servertest.Config) { c.Now = func() time.Time { return wednesdayNoon } }
	one := startServer(t, rds, dir, at)
	two := startServer(t, rds, dir, at)
	adm, err := one.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: "ada@example.com", Name: "Ada", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, one, adm)

	answer := func() string {
		v := dial(t, two)
		v.start("check")
		v.bot("Checking.")
		for {
			e := v.next("entry")["entry"].(map[string]any)
			if txt, _ := e["text"].(string); e["from"] == "bot" && strings.HasPrefix(txt, "night is") {
				return txt
			}
		}
	}
	if got := answer(); got != "night is open" {
		t.Fatalf("before any hours: %q", got)
	}
	code, b := admin.do("PUT", "/api/admin/teams/night", map[string]any{"routing": "least_busy", "capacity": 3, "reopen": "reopen", "hours": "sat 10:00-14:00 UTC"})
	if code != 200 || !strings.Contains(string(b), `"hours":"sat 10:00-14:00 UTC"`) {
		t.Fatalf("save: %d %s", code, b)
	}
	// The second process hears of the change on the inbox channel; each
	// try below is a whole conversation, bounded.
	got := answer()
	for i := 0; got != "night is closed" && i < 50; i++ {
		got = answer()
	}
	if got != "night is closed" {
		t.Fatalf("after the admin's hours on the other process: %q", got)
	}
	teams := string(admin.ok("GET", "/api/admin/teams", nil))
	if !regexp.MustCompile(`\{"name":"night","routing":"least_busy","capacity":3,"reopen":"reopen","hours":"sat 10:00-14:00 UTC"`).MatchString(teams) {
		t.Fatalf("teams: %s", teams)
	}
	for _, bad := range []struct {
		path string
		body map[string]any
		want string
	}{
		{"/api/admin/teams/night", map[string]any{"routing": "manual", "hours": "someday 9-5"}, "is not a day"},
		{"/api/admin/teams/night", map[string]any{"routing": "manual", "hours": "mon-fri 09:00-18:00 Mars/Olympus"}, "unknown time zone"},
		{"/api/admin/teams/night", map[string]any{"routing": "fastest"}, "routing is manual, round_robin or least_busy"},
		{"/api/admin/teams/Night%20Shift", map[string]any{"routing": "manual"}, "team"},
	} {
		code, b := admin.do("PUT", bad.path, bad.body)
		wantError(t, bad.path+" "+bad.want, code, b, 400, bad.want)
	}
}

// TestAdminTestMail: the test mail goes to the admin's own address; a
// mail server that does not answer is a 502 that says why; a server
// without mail says how to set it up.
func TestAdminTestMail(t *testing.T) {
	rds := redistest.New(t)
	ts, smtp := smtpServer(t, rds)
	adm, err := ts.srv.App().Inbox().AddAgent(context.Background(), handoff.NewAgent{Email: "ada@example.com", Name: "Ada", Role: handoff.RoleAdmin, Password: "correct horse"})
	if err != nil {
		t.Fatal(err)
	}
	admin := signIn(t, ts, adm)
	if b := admin.ok("POST", "/api/admin/mail/test", nil); !strings.Contains(string(b), `"to":"ada@example.com"`) {
		t.Fatalf("test mail: %s", b)
	}
	if mails := mailTo(smtp, "ada@example.com"); len(mails) != 1 || !strings.Contains(mails[0], "test mail") {
		t.Fatalf("mails to the admin: %q", mails)
	}

	refused, err := server.NewSMTPMailer("smtp://127.0.0.1:1?from=chat@example.com")
	if err != nil {
		t.Fatal(err)
	}
	broken := startServer(t, rds, "../playbooks/bench", func(c *servertest.Config) { c.Mail = refused })
	code, b := signIn(t, broken, adm).do("POST", "/api/admin/mail/test", nil)
	wantError(t, "a mail server that does not answer", code, b, 502, "the test mail to ada@example.com could not be sent: ")

	none := startServer(t, rds, "../playbooks/bench")
	code, b = signIn(t, none, adm).do("POST", "/api/admin/mail/test", nil)
	wantError(t, "no mail", code, b, 501, "--smtp")
}

// TestAgentDisabledByTheCommandLine: playbook agents disable on Redis
// changes the store and announces it on the bus (AnnounceAdminChange), as
// here with a store of its own: the running server closes the agent's
// feed at once.
func TestAgentDisabledByTheCommandLine(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	bobAgent := addAgent(t, ts, "Bob", "sales")
	bob := signIn(t, ts, bobAgent)
	_, closed := longFeed(t, bob)

	ctx := context.Background()
	cli := handoff.NewStore(redisstore.NewInbox(rds.Client, rds.Prefix), handoff.Options{Prefix: rds.Prefix})
	if _, err := cli.SetDisabled(ctx, bobAgent.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := conversation.AnnounceAdminChange(ctx, redisstore.NewBus(rds.Client), cli, bobAgent.ID, false); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if websocket.CloseStatus(err) != 4001 {
			t.Errorf("Bob's feed closed with %v, want status 4001 (signed out)", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Bob's /ws/agent is still open 60 s after the command line disabled him")
	}
}
