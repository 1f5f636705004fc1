package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/protocol"
)

// Inbox is a signed-in agent: the inbox API's actions and the live feed.
// It is safe for concurrent use.
type Inbox struct {
	base  string
	http  *http.Client
	opts  Options
	csrf  string // the session's CSRF token ("" with an API token)
	token string // the API token ("" with a session)
	// Agent is who signed in.
	Agent *protocol.Agent
}

// APIError is an answer of the API with an error status: its status code
// and the server's {"error": "..."} text.
type APIError struct {
	Status  int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Message) }

// StatusOf is the HTTP status of an *APIError or a *DialError in err's
// chain, 0 when there is none.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	var de *DialError
	if errors.As(err, &de) {
		return de.Status
	}
	return 0
}

// SignIn signs in at the server at baseURL with an agent's email and
// password (POST /api/auth/login). The session cookie lives in a cookie
// jar of the Inbox's own HTTP client.
func SignIn(ctx context.Context, baseURL, email, password string, opts Options) (*Inbox, error) {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	if opts.HTTPClient != nil {
		c := *opts.HTTPClient
		c.Jar = jar
		hc = &c
	}
	in := &Inbox{base: strings.TrimRight(baseURL, "/"), http: hc, opts: opts}
	var login protocol.Login
	if err := in.Do(ctx, http.MethodPost, "/api/auth/login", protocol.LoginRequest{Email: email, Password: password}, &login); err != nil {
		return nil, err
	}
	in.Agent, in.csrf = login.Agent, login.CSRF
	return in, nil
}

// WithToken is an agent known by an API token (playbook agents token):
// no sign-in, no CSRF token.
func WithToken(baseURL, token string, opts Options) *Inbox {
	hc := opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Inbox{base: strings.TrimRight(baseURL, "/"), http: hc, opts: opts, token: token}
}

// CSRF is the session's CSRF token ("" with an API token).
func (in *Inbox) CSRF() string { return in.csrf }

// HTTPClient is the client the Inbox sends its requests with (with the
// session's cookie jar after SignIn).
func (in *Inbox) HTTPClient() *http.Client { return in.http }

// Do sends one API request: body (nil: none) as JSON, and the answer's
// JSON into out (nil: ignored). An error status comes back as *APIError.
func (in *Inbox) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, in.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	in.authorize(req.Header)
	resp, err := in.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e protocol.APIError
		if json.Unmarshal(b, &e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(b))
		}
		return &APIError{Status: resp.StatusCode, Message: e.Message}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("client: %s %s: decoding the answer: %w", method, path, err)
	}
	return nil
}

func (in *Inbox) authorize(h http.Header) {
	if in.token != "" {
		h.Set("Authorization", "Bearer "+in.token)
	} else if in.csrf != "" {
		h.Set("X-CSRF-Token", in.csrf)
	}
}

// Feed opens the agent's live feed (/ws/agent) and waits for its Hello.
func (in *Inbox) Feed(ctx context.Context) (*Conn, error) {
	opts := in.opts
	opts.HTTPClient = in.http
	hdr := http.Header{}
	for k, v := range opts.Header {
		hdr[k] = v
	}
	in.authorize(hdr)
	hdr.Del("X-CSRF-Token") // the session cookie comes from the jar
	opts.Header = hdr
	c, err := DialAgent(ctx, in.base, opts)
	if err != nil {
		return nil, err
	}
	f, err := c.Next(ctx)
	if err != nil {
		c.CloseNow()
		return nil, err
	}
	if _, ok := f.(*protocol.Hello); !ok {
		c.CloseNow()
		return nil, fmt.Errorf("client: the agent feed began with a %s frame, not hello", f.FrameType())
	}
	return c, nil
}

// Me is GET /api/me.
func (in *Inbox) Me(ctx context.Context) (*protocol.Me, error) {
	var me protocol.Me
	return &me, in.Do(ctx, http.MethodGet, "/api/me", nil, &me)
}

// SignOut ends the session (its feeds close with status 4001).
func (in *Inbox) SignOut(ctx context.Context) error {
	return in.Do(ctx, http.MethodPost, "/api/auth/logout", nil, nil)
}

// SetPresence sets the agent online, away or offline.
func (in *Inbox) SetPresence(ctx context.Context, status string) error {
	return in.Do(ctx, http.MethodPut, "/api/me/presence", protocol.PresenceRequest{Status: status}, nil)
}

// Agents is GET /api/agents.
func (in *Inbox) Agents(ctx context.Context) ([]protocol.AgentInfo, error) {
	var out []protocol.AgentInfo
	return out, in.Do(ctx, http.MethodGet, "/api/agents", nil, &out)
}

// Conversations lists a folder (protocol.FolderUnassigned, …).
func (in *Inbox) Conversations(ctx context.Context, folder string) ([]protocol.Conversation, error) {
	var out []protocol.Conversation
	return out, in.Do(ctx, http.MethodGet, "/api/conversations?folder="+url.QueryEscape(folder), nil, &out)
}

// Conversation is GET /api/conversations/{id}.
func (in *Inbox) Conversation(ctx context.Context, id string) (*protocol.ConversationDetails, error) {
	var out protocol.ConversationDetails
	return &out, in.Do(ctx, http.MethodGet, convPath(id, ""), nil, &out)
}

// Transcript is the conversation's entries after after ("" for all),
// private notes included.
func (in *Inbox) Transcript(ctx context.Context, id, after string) ([]protocol.Entry, error) {
	var out []protocol.Entry
	p := convPath(id, "/transcript")
	if after != "" {
		p += "?after=" + url.QueryEscape(after)
	}
	return out, in.Do(ctx, http.MethodGet, p, nil, &out)
}

// Assign gives the chat to agent ("" or the caller's id: take it).
func (in *Inbox) Assign(ctx context.Context, id, agent string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/assign", protocol.AssignRequest{Agent: agent})
}

// Unassign puts the chat back in its team's queue.
func (in *Inbox) Unassign(ctx context.Context, id string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/unassign", nil)
}

// Transfer moves the chat to team's queue.
func (in *Inbox) Transfer(ctx context.Context, id, team string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/transfer", protocol.TransferRequest{Team: team})
}

// HandBack hands the chat back to the bot at card.
func (in *Inbox) HandBack(ctx context.Context, id, card string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/handback", protocol.HandbackRequest{Card: card})
}

// Labels adds and removes labels.
func (in *Inbox) Labels(ctx context.Context, id string, add, remove []string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/labels", protocol.LabelsRequest{Add: add, Remove: remove})
}

// Snooze puts the chat aside until until (reply, tomorrow, next_week or an
// RFC 3339 time).
func (in *Inbox) Snooze(ctx context.Context, id, until string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/snooze", protocol.SnoozeRequest{Until: until})
}

// Resolve closes the chat.
func (in *Inbox) Resolve(ctx context.Context, id string) (*protocol.Conversation, error) {
	return in.action(ctx, id, "/resolve", nil)
}

func (in *Inbox) action(ctx context.Context, id, what string, body any) (*protocol.Conversation, error) {
	var out protocol.Conversation
	if err := in.Do(ctx, http.MethodPost, convPath(id, what), body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reply sends the agent's message to the visitor; clientID makes a resend
// run once.
func (in *Inbox) Reply(ctx context.Context, id, text, clientID string) (*protocol.Entry, error) {
	var out protocol.Entry
	return &out, in.Do(ctx, http.MethodPost, convPath(id, "/messages"), protocol.TextRequest{Text: text, ClientID: clientID}, &out)
}

// Note adds a private note (never sent to the visitor).
func (in *Inbox) Note(ctx context.Context, id, text string) (*protocol.Entry, error) {
	var out protocol.Entry
	return &out, in.Do(ctx, http.MethodPost, convPath(id, "/notes"), protocol.TextRequest{Text: text}, &out)
}

// Typing shows or hides the agent's typing dots to the visitor.
func (in *Inbox) Typing(ctx context.Context, id string, on bool) error {
	return in.Do(ctx, http.MethodPost, convPath(id, "/typing"), protocol.TypingRequest{On: on}, nil)
}

// EmailTranscript mails the visitor's copy to to, or with internal the
// copy with notes to an agent ("" : yourself).
func (in *Inbox) EmailTranscript(ctx context.Context, id, to string, internal bool) error {
	return in.Do(ctx, http.MethodPost, convPath(id, "/transcript/email"), protocol.TranscriptEmailRequest{To: to, Internal: internal}, nil)
}

// CreateRecord makes a lead ("lead"), a deal ("deal") or a note for sales
// ("notify-sales") from the chat.
func (in *Inbox) CreateRecord(ctx context.Context, id, kind string, r protocol.RecordRequest) (*protocol.RecordResult, error) {
	var out protocol.RecordResult
	return &out, in.Do(ctx, http.MethodPost, convPath(id, "/"+kind), r, &out)
}

// Panel is the conversation's CRM panel.
func (in *Inbox) Panel(ctx context.Context, id string) (*protocol.Panel, error) {
	var out protocol.Panel
	return &out, in.Do(ctx, http.MethodGet, convPath(id, "/crm"), nil, &out)
}

// RecordQuery is a search of the CRM API; zero fields are left out.
type RecordQuery struct {
	Q      string    // text; an email finds its person exactly
	Owner  string    // "me" or an agent id
	Person string    // records linked to this person
	Limit  int       // at most 500; 0: the server's default (50)
	Before time.Time // pages back: records created before
}

// Records lists the CRM records of a kind the agent may see, newest first:
// kind is the API's path, "people", "organizations", "leads", "deals" or
// "tasks".
func (in *Inbox) Records(ctx context.Context, kind string, q RecordQuery) ([]protocol.Record, error) {
	v := url.Values{}
	for k, s := range map[string]string{"q": q.Q, "owner": q.Owner, "person": q.Person} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if !q.Before.IsZero() {
		v.Set("before", q.Before.Format(time.RFC3339Nano))
	}
	path := "/api/" + url.PathEscape(kind)
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []protocol.Record
	return out, in.Do(ctx, http.MethodGet, path, nil, &out)
}

// Record is a CRM record of a kind (the API's path, as for Records) with
// the records it links to.
func (in *Inbox) Record(ctx context.Context, kind, id string) (*protocol.RecordDetails, error) {
	var out protocol.RecordDetails
	return &out, in.Do(ctx, http.MethodGet, "/api/"+url.PathEscape(kind)+"/"+url.PathEscape(id), nil, &out)
}

// RecordFeed is the activity feed of a CRM record, newest first: typ is
// "chats", "notes", "records" or "" for all; limit 0: the server's
// default.
func (in *Inbox) RecordFeed(ctx context.Context, kind, id, typ string, limit int) ([]protocol.FeedItem, error) {
	v := url.Values{}
	if typ != "" {
		v.Set("type", typ)
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/" + url.PathEscape(kind) + "/" + url.PathEscape(id) + "/feed"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out []protocol.FeedItem
	return out, in.Do(ctx, http.MethodGet, path, nil, &out)
}

// UpdatePerson changes a person's name or phone (nil: keep, "": clear).
func (in *Inbox) UpdatePerson(ctx context.Context, id string, u protocol.PersonUpdate) (*protocol.Record, error) {
	var out protocol.Record
	return &out, in.Do(ctx, http.MethodPut, "/api/people/"+url.PathEscape(id), u, &out)
}

func convPath(id, rest string) string {
	return "/api/conversations/" + url.PathEscape(id) + rest
}

// Follow asks the feed for a conversation's entries after after, then
// live ones.
func Follow(ctx context.Context, feed *Conn, conversation, after string) error {
	return feed.Send(ctx, &protocol.Follow{Conversation: conversation, After: after})
}

// Heartbeat keeps the agent online; send one every 10 seconds.
func Heartbeat(ctx context.Context, feed *Conn) error {
	return feed.Send(ctx, &protocol.Heartbeat{})
}
