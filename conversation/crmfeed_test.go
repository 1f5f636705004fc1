package conversation_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/store/embedded"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// countingSessions counts the transcript reads of the service, and the
// transcripts it keeps.
type countingSessions struct {
	store.SessionStore
	reads atomic.Int64
	kept  atomic.Int64
}

func (c *countingSessions) Transcript(ctx context.Context, id, after string, count int64) ([]store.Entry, error) {
	c.reads.Add(1)
	return c.SessionStore.Transcript(ctx, id, after, count)
}

// EncodedTranscript is the embedded engine's (store.EncodedTranscripts),
// counted as a read too.
func (c *countingSessions) EncodedTranscript(ctx context.Context, id string) ([]byte, error) {
	c.reads.Add(1)
	return c.SessionStore.(store.EncodedTranscripts).EncodedTranscript(ctx, id)
}

func (c *countingSessions) KeepTranscript(ctx context.Context, id string) error {
	c.kept.Add(1)
	return c.SessionStore.KeepTranscript(ctx, id)
}

// openEmbedded opens an embedded engine in a folder of the test's.
func openEmbedded(t *testing.T) store.Engine {
	t.Helper()
	db, err := embedded.Open(t.TempDir(), embedded.Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return embedded.NewEngine(db)
}

// registryOf loads the playbooks files (file name: YAML) on eng.
func registryOf(t *testing.T, eng store.Engine, files map[string]string) *conversation.Registry {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := conversation.NewRegistry(dir, eng.Programs(time.Hour), quiet(), nil)
	if diags, err := reg.Reload(context.Background(), true); err != nil || diags.HasErrors() {
		t.Fatalf("loading the playbooks: %v %v", diags, err)
	}
	return reg
}

// TestFeedDoesNotReadTheTranscriptBack: the CRM side of a conversation
// never reads its transcript (issue 13): the lead's record and the chat in
// the person's feed get the visitor's first message from the session, and
// at the end of a chat with a person the feed links the transcript, which
// is kept (KeepTranscript, once), not read and copied. A chat with nobody
// to link keeps nothing.
func TestFeedDoesNotReadTheTranscriptBack(t *testing.T) {
	ctx := context.Background()
	eng := openEmbedded(t)
	sessions := &countingSessions{SessionStore: eng.Sessions(store.SessionOptions{TTL: time.Hour, Pending: conversation.LeavesWork})}
	inbox := handoff.NewStore(eng.Inbox(), handoff.Options{Alive: sessions.Alive})
	reg := registryOf(t, eng, map[string]string{"signup.yaml": signup, "desk.yaml": desk})
	cr := crm.New(eng.CRM(), eng.CRM(), crm.Options{Agents: conversation.Agents(inbox)})
	svc, err := conversation.New(conversation.Config{
		Store: sessions, Timers: eng.Timers(), Inbox: inbox, CRM: cr, Registry: reg, Publisher: eng.Bus(), Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	settled := func(what string) {
		t.Helper()
		waitFor(t, what, func() bool {
			n, err := sessions.PendingCount(ctx)
			return err == nil && n == 0
		})
	}

	// Nobody online: the desk chat ends at once, with no person.
	desk, _ := reg.Current("desk")
	away, _, err := svc.Start(ctx, conversation.StartRequest{Program: desk, Locale: "en"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if away.Status != engine.StatusEnded {
		t.Fatalf("the desk chat is %s, want ended (nobody online)", away.Status)
	}
	settled("the desk chat's work")
	if n := sessions.kept.Load(); n != 0 {
		t.Errorf("a chat with nobody to link kept its transcript (%d)", n)
	}

	signup, _ := reg.Current("signup")
	sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: signup, Locale: "en"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := store.Entry{From: "visitor", Kind: "message", Text: "ada@example.com", ClientID: "m1", At: time.Now().UTC()}
	_, info, err := svc.Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "ada@example.com"}, &msg)
	if err != nil {
		t.Fatal(err)
	}
	if info.Status != engine.StatusEnded || info.Session.FirstMessage != "ada@example.com" {
		t.Fatalf("the turn left %s with first message %q", info.Status, info.Session.FirstMessage)
	}
	settled("the signup chat's work")
	if n := sessions.reads.Load(); n != 0 {
		t.Errorf("the CRM side read transcripts %d times, want never", n)
	}
	if n := sessions.kept.Load(); n != 1 {
		t.Errorf("the chat with a person kept its transcript %d times, want once", n)
	}

	person, err := cr.PersonOf(ctx, sess.ID, "ada@example.com")
	if err != nil || person == "" {
		t.Fatalf("the lead's person: %q, %v", person, err)
	}
	feed, err := cr.Feed(ctx, person, crm.FeedChats, 10)
	if err != nil || len(feed) != 1 {
		t.Fatalf("the person's chats: %+v, %v", feed, err)
	}
	if c := feed[0].Chat; c.Conversation != sess.ID || c.FirstMessage != "ada@example.com" || c.Outcome != "lead" || c.EndedAt == nil {
		t.Errorf("the chat in the feed: %+v", c)
	}
	if c := feed[0].Chat; c.Transcript != crm.TranscriptPath(sess.ID) {
		t.Errorf("the chat in the feed links %q, want %q", c.Transcript, crm.TranscriptPath(sess.ID))
	}
	if b, err := cr.ArchivedTranscript(ctx, sess.ID); err != crm.ErrNotFound {
		t.Errorf("the transcript was copied into the CRM (%d bytes, %v): the feed links it", len(b), err)
	}
}

// countingCRM counts the reads of the CRM's memory of a conversation
// (store.CRM.Conversation: what crm.Store.PersonOf reads).
type countingCRM struct {
	store.CRM
	convReads atomic.Int64
}

func (c *countingCRM) Conversation(ctx context.Context, conv string, indexes ...string) (map[string]string, []string, error) {
	c.convReads.Add(1)
	return c.CRM.Conversation(ctx, conv, indexes...)
}

const newsletter = `playbook: newsletter
vars:
  email: {type: email}
cards:
  ask:
    ask: Your email?
    input: email
    save: email
  bye:
    say: Thanks, you are subscribed.
    end: nurture
`

// TestPersonOfAChatReadWithItsLastTurn: on Redis, the look for the person
// of a chat that ends without creating a record (crm.Store.PersonOf, after
// the turn) is read with the turn's own write (store.TurnReads), not
// afterwards: no read of the CRM's memory after it (one before, issue 13),
// and the chat still lands in the feed of the person with the email the
// session knows. A chat whose last turn creates the lead reads after its
// create, which links the person.
func TestPersonOfAChatReadWithItsLastTurn(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	eng := redisstore.NewEngine(rds.Client, rds.Prefix)
	sessions := eng.Sessions(store.SessionOptions{TTL: time.Hour, Pending: conversation.LeavesWork})
	inbox := handoff.NewStore(eng.Inbox(), handoff.Options{Alive: sessions.Alive})
	dir := t.TempDir()
	for name, src := range map[string]string{"signup.yaml": signup, "newsletter.yaml": newsletter} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := conversation.NewRegistry(dir, eng.Programs(time.Hour), quiet(), nil)
	if diags, err := reg.Reload(ctx, true); err != nil || diags.HasErrors() {
		t.Fatalf("loading the playbooks: %v %v", diags, err)
	}
	counted := &countingCRM{CRM: eng.CRM()}
	cr := crm.New(counted, eng.CRM(), crm.Options{Agents: conversation.Agents(inbox)})
	svc, err := conversation.New(conversation.Config{
		Store: sessions, Timers: eng.Timers(), Inbox: inbox, CRM: cr, Registry: reg, Publisher: eng.Bus(), Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	// A service whose Run has returned does its background work (the
	// CRM's after a turn) in the caller's goroutine: each Turn below
	// returns with it done.
	stopped, stop := context.WithCancel(ctx)
	stop()
	if err := svc.Run(stopped, time.Hour, nil); err != nil {
		t.Fatal(err)
	}
	talk := func(playbook, email string) string {
		t.Helper()
		p, _ := reg.Current(playbook)
		sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: p, Locale: "en"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		msg := store.Entry{From: "visitor", Kind: "message", Text: email, ClientID: "m1", At: time.Now().UTC()}
		_, info, err := svc.Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: email}, &msg)
		if err != nil {
			t.Fatal(err)
		}
		if info.Status != engine.StatusEnded {
			t.Fatalf("%s: the turn left %s, want ended", playbook, info.Status)
		}
		return sess.ID
	}

	lead := talk("signup", "ada@example.com")
	person, err := cr.PersonOf(ctx, lead, "ada@example.com")
	if err != nil || person == "" {
		t.Fatalf("the lead's person: %q, %v", person, err)
	}

	before := counted.convReads.Load()
	chat := talk("newsletter", "ada@example.com")
	if n := counted.convReads.Load() - before; n != 0 {
		t.Errorf("%d reads of the CRM's memory after the chat's last turn, want none (read with the turn)", n)
	}
	feed, err := cr.Feed(ctx, person, crm.FeedChats, 10)
	if err != nil || len(feed) != 2 {
		t.Fatalf("the person's chats: %+v, %v", feed, err)
	}
	if c := feed[0].Chat; c.Conversation != chat || c.Outcome != "nurture" || c.EndedAt == nil {
		t.Errorf("the newsletter chat in the feed: %+v", c)
	}

	// Nobody with that email: nothing linked, and still no read after.
	before = counted.convReads.Load()
	talk("newsletter", "bob@example.com")
	if n := counted.convReads.Load() - before; n != 0 {
		t.Errorf("%d reads of the CRM's memory after a chat with no person, want none", n)
	}
	if p, err := cr.PersonOf(ctx, chat, "bob@example.com"); err != nil || p != person {
		t.Errorf("the newsletter chat's person %q, %v; want %q (linked)", p, err, person)
	}
}

// countingChanges counts a CRM store's reads and changes: the
// conversation's memory (PersonOf), records (the person LinkChat reads),
// changes applied (a create's, the feed refresh's).
type countingChanges struct {
	store.CRM
	convReads, recordReads, applies atomic.Int64
	// failCreates makes every create's change fail (one with an
	// idempotency key; a feed refresh's has none).
	failCreates atomic.Bool
}

func (c *countingChanges) Conversation(ctx context.Context, conv string, indexes ...string) (map[string]string, []string, error) {
	c.convReads.Add(1)
	return c.CRM.Conversation(ctx, conv, indexes...)
}

func (c *countingChanges) Records(ctx context.Context, ids ...string) ([]string, error) {
	c.recordReads.Add(1)
	return c.CRM.Records(ctx, ids...)
}

func (c *countingChanges) Apply(ctx context.Context, ch *store.CRMChange) (string, error) {
	c.applies.Add(1)
	if ch.Key != "" && c.failCreates.Load() {
		return "", errors.New("the create's change failed (test)")
	}
	return c.CRM.Apply(ctx, ch)
}

// TestLeadsLastTurnLinksTheChatOnce: when the turn that creates the lead
// also ends the chat, the create writes the chat in the person's feed as
// ended, and the feed is not refreshed after the turn (issue 13): one
// change (the create's), no read of the CRM after the create, and the
// transcript still kept. The chat in the feed is the one the refresh
// writes, end time included. A lead at a known domain reads its
// organization with the turn. On Redis and the embedded engine.
func TestLeadsLastTurnLinksTheChatOnce(t *testing.T) {
	// The CRM's memory read by the create itself: none on Redis (read
	// with the turn), one on the embedded engine (which reads nothing
	// with a turn).
	createReads := map[string]int64{"redis": 0, "embedded": 1}
	// The records read by the create of a lead at a known domain: none on
	// Redis (the organization read with the turn), one on the embedded
	// engine.
	knownDomainReads := map[string]int64{"redis": 0, "embedded": 1}
	engines := map[string]func(t *testing.T) store.Engine{
		"redis": func(t *testing.T) store.Engine {
			rds := redistest.New(t)
			return redisstore.NewEngine(rds.Client, rds.Prefix)
		},
		"embedded": func(t *testing.T) store.Engine {
			return openEmbedded(t)
		},
	}
	for name, open := range engines {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			eng := open(t)
			sessions := &countingSessions{SessionStore: eng.Sessions(store.SessionOptions{TTL: time.Hour, Pending: conversation.LeavesWork})}
			inbox := handoff.NewStore(eng.Inbox(), handoff.Options{Alive: sessions.Alive})
			reg := registryOf(t, eng, map[string]string{"signup.yaml": signup})
			counted := &countingChanges{CRM: eng.CRM()}
			cr := crm.New(counted, eng.CRM(), crm.Options{Agents: conversation.Agents(inbox)})
			// One instant for the whole test: the end time the refresh
			// would write is known.
			at := time.Now().UTC().Truncate(time.Millisecond)
			svc, err := conversation.New(conversation.Config{
				Store: sessions, Timers: eng.Timers(), Inbox: inbox, CRM: cr, Registry: reg, Publisher: eng.Bus(), Logger: quiet(),
				Now: func() time.Time { return at },
			})
			if err != nil {
				t.Fatal(err)
			}
			// Background work in the caller's goroutine (Run returned).
			stopped, stop := context.WithCancel(ctx)
			stop()
			if err := svc.Run(stopped, time.Hour, nil); err != nil {
				t.Fatal(err)
			}
			p, _ := reg.Current("signup")
			sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: p, Locale: "en"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			convReads, recordReads, applies := counted.convReads.Load(), counted.recordReads.Load(), counted.applies.Load()
			msg := store.Entry{From: "visitor", Kind: "message", Text: "ada@example.com", ClientID: "m1", At: at}
			_, info, err := svc.Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "ada@example.com"}, &msg)
			if err != nil {
				t.Fatal(err)
			}
			if info.Status != engine.StatusEnded {
				t.Fatalf("the turn left %s, want ended", info.Status)
			}
			if n := counted.applies.Load() - applies; n != 1 {
				t.Errorf("%d CRM changes for the lead's last turn, want 1 (the create's; no feed refresh)", n)
			}
			if n := counted.convReads.Load() - convReads; n != createReads[name] {
				t.Errorf("%d reads of the CRM's memory for the lead's last turn, want %d (the create's; none after it)", n, createReads[name])
			}
			if n := counted.recordReads.Load() - recordReads; n != 0 {
				t.Errorf("%d record reads for the lead's last turn, want none (a new person and lead)", n)
			}
			if n := sessions.kept.Load(); n != 1 {
				t.Errorf("the transcript the feed links was kept %d times, want once", n)
			}
			if n, err := sessions.PendingCount(ctx); err != nil || n != 0 {
				t.Errorf("%d pending turns (%v), want none", n, err)
			}

			person, err := cr.PersonOf(ctx, sess.ID, "")
			if err != nil || person == "" {
				t.Fatalf("the chat's person: %q, %v", person, err)
			}
			created, err := cr.ChatOf(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if created.EndedAt == nil || !created.EndedAt.Equal(at) {
				t.Errorf("the create's chat ended at %v, want %v", created.EndedAt, at)
			}
			// What the refresh after the last turn writes (refreshChat):
			// the chat as CRMSource describes it, ended now, linked again.
			last, _, err := sessions.Load(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			src := svc.CRMSource(ctx, sess.ID, nil, last)
			chat := *src.Chat
			if chat.EndedAt == nil {
				chat.EndedAt = &at
			}
			if got, err := cr.LinkChatOf(ctx, chat, src.Team, src.Visitor.Email, ""); err != nil || got != person {
				t.Fatalf("the refresh's link: %q, %v; want %q", got, err, person)
			}
			refreshed, err := cr.ChatOf(ctx, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(created, refreshed) {
				t.Errorf("the create's chat differs from the refresh's:\n%+v\n%+v", *created, *refreshed)
			}
			feed, err := cr.Feed(ctx, person, crm.FeedChats, 10)
			if err != nil || len(feed) != 1 || feed[0].Chat.Conversation != sess.ID || feed[0].Chat.Outcome != "lead" {
				t.Errorf("the person's chats: %+v, %v", feed, err)
			}

			// A create that fails links nothing: the refresh after the
			// turn runs as before, and puts the chat, ended, in the feed
			// of the person with the email.
			counted.failCreates.Store(true)
			again, _, err := svc.Start(ctx, conversation.StartRequest{Program: p, Locale: "en"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			applies = counted.applies.Load()
			if _, _, err := svc.Turn(ctx, again.ID, "m1", engine.Event{Kind: engine.EventText, Text: "ada@example.com"}, &msg); err != nil {
				t.Fatal(err)
			}
			if n := counted.applies.Load() - applies; n < 2 {
				t.Errorf("%d CRM changes after a failed create, want its tries and the refresh's", n)
			}
			if n := sessions.kept.Load(); n != 2 {
				t.Errorf("transcripts kept: %d, want 2 (the refresh keeps the second)", n)
			}
			if c, err := cr.ChatOf(ctx, again.ID); err != nil || c.EndedAt == nil || !c.EndedAt.Equal(at) {
				t.Errorf("the chat the refresh linked after a failed create: %+v, %v", c, err)
			}
			if p, err := cr.Linked(ctx, again.ID); err != nil || p != person {
				t.Errorf("the chat after a failed create is linked to %q (%v), want %q", p, err, person)
			}

			// A lead at a known domain links its organization: the record
			// the domain's index entry names is read with the turn on one
			// Redis node (no read after it), by the create on the
			// embedded engine.
			counted.failCreates.Store(false)
			first, err := cr.Results(ctx, sess.ID)
			if err != nil || len(first) != 3 || first[0].Kind != crm.KindOrganization {
				t.Fatalf("the first lead's records: %+v, %v", first, err)
			}
			third, _, err := svc.Start(ctx, conversation.StartRequest{Program: p, Locale: "en"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			recordReads = counted.recordReads.Load()
			bob := store.Entry{From: "visitor", Kind: "message", Text: "bob@example.com", ClientID: "m1", At: at}
			if _, _, err := svc.Turn(ctx, third.ID, "m1", engine.Event{Kind: engine.EventText, Text: "bob@example.com"}, &bob); err != nil {
				t.Fatal(err)
			}
			if n := counted.recordReads.Load() - recordReads; n != knownDomainReads[name] {
				t.Errorf("%d record reads for a lead at a known domain, want %d", n, knownDomainReads[name])
			}
			made, err := cr.Results(ctx, third.ID)
			if err != nil || len(made) != 2 || made[1].Kind != crm.KindLead || made[1].OrganizationID != first[0].ID || made[0].OrganizationID != first[0].ID {
				t.Errorf("the lead at a known domain made %+v (%v), want a person and a lead of organization %s", made, err, first[0].ID)
			}
		})
	}
}

// failingApply fails the CRM's first fails changes, as a Redis outage or a
// killed process would leave a lead's record unmade after its turn.
type failingApply struct {
	store.CRM
	fails atomic.Int32
}

func (f *failingApply) Apply(ctx context.Context, c *store.CRMChange) (string, error) {
	if f.fails.Add(-1) >= 0 {
		return "", errors.New("the CRM is down")
	}
	return f.CRM.Apply(ctx, c)
}

// TestSweptLeadKeepsItsTranscript: when a lead's last turn loses its work
// (the record's create failed), the sweep makes the record and does what
// the turn's work would have: the chat in the person's feed, ended, and
// its transcript kept, as the feed links it (a lead's end has no webhook
// event: the sweep's create links the chat, redoEvents does not).
func TestSweptLeadKeepsItsTranscript(t *testing.T) {
	ctx := context.Background()
	eng := openEmbedded(t)
	var later atomic.Int64 // how far the service's clock is ahead
	clock := func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	sessions := &countingSessions{SessionStore: eng.Sessions(store.SessionOptions{TTL: time.Hour, Pending: conversation.LeavesWork, Now: clock})}
	inbox := handoff.NewStore(eng.Inbox(), handoff.Options{Alive: sessions.Alive})
	reg := registryOf(t, eng, map[string]string{"signup.yaml": signup})
	down := &failingApply{CRM: eng.CRM()}
	cr := crm.New(down, eng.CRM(), crm.Options{Agents: conversation.Agents(inbox)})
	svc, err := conversation.New(conversation.Config{
		Store: sessions, Timers: eng.Timers(), Inbox: inbox, CRM: cr, Registry: reg, Publisher: eng.Bus(), Logger: quiet(),
		Now: clock, RecoverAfter: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	prog, _ := reg.Current("signup")
	sess, _, err := svc.Start(ctx, conversation.StartRequest{Program: prog, Locale: "en"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	down.fails.Store(1 << 30) // every try of this process's CRM fails
	msg := store.Entry{From: "visitor", Kind: "message", Text: "ada@example.com", ClientID: "m1", At: clock().UTC()}
	if _, info, err := svc.Turn(ctx, sess.ID, "m1", engine.Event{Kind: engine.EventText, Text: "ada@example.com"}, &msg); err != nil || info.Status != engine.StatusEnded {
		t.Fatalf("the lead's last turn: %v %v", info.Status, err)
	}
	waitFor(t, "the turn's work to end", func() bool { return svc.Settle(ctx) == nil })
	if n, _ := sessions.PendingCount(ctx); n != 1 {
		t.Fatalf("%d pending marks after the lead's work failed, want 1", n)
	}
	if n := sessions.kept.Load(); n != 0 {
		t.Fatalf("the transcript kept %d times with no record made", n)
	}
	// The sweep of another process, whose CRM is up (this one's stays
	// down: any retry of the turn's own work fails still).
	cr2 := crm.New(eng.CRM(), eng.CRM(), crm.Options{Agents: conversation.Agents(inbox)})
	svc2, err := conversation.New(conversation.Config{
		Store: sessions, Timers: eng.Timers(), Inbox: inbox, CRM: cr2, Registry: reg, Publisher: eng.Bus(), Logger: quiet(),
		Now: clock, RecoverAfter: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	later.Store(int64(2 * time.Minute))
	svc2.RecoverPending(ctx)
	if n, _ := sessions.PendingCount(ctx); n != 0 {
		t.Fatalf("%d pending marks after the sweep, want 0", n)
	}
	person, err := cr2.PersonOf(ctx, sess.ID, "ada@example.com")
	if err != nil || person == "" {
		t.Fatalf("the lead's person after the sweep: %q, %v", person, err)
	}
	feed, err := cr2.Feed(ctx, person, crm.FeedChats, 10)
	if err != nil || len(feed) != 1 {
		t.Fatalf("the person's chats: %+v, %v", feed, err)
	}
	if c := feed[0].Chat; c.Conversation != sess.ID || c.EndedAt == nil || c.Transcript != crm.TranscriptPath(sess.ID) {
		t.Errorf("the chat in the feed after the sweep: %+v", c)
	}
	if n := sessions.kept.Load(); n != 1 {
		t.Errorf("the swept lead's transcript kept %d times, want once (the feed links it)", n)
	}
}
