package server_test

import (
	"github.com/playbook-dev/playbook/internal/servertest"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/server"
	"github.com/playbook-dev/playbook/transcript"
)

// Item 6: the global cap on visitors' transcript mails is one count in
// Redis shared by every process: two processes with a cap of 2 a minute
// send 2 between them, and the third visitor is told to try later.
func TestVisitorTranscriptGlobalCapAcrossProcesses(t *testing.T) {
	rds := redistest.New(t)
	minute := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC) // one fixed minute for the cap
	limits := func(c *servertest.Config) {
		c.MailLimits = transcript.Limits{PerMinute: 2, Now: func() time.Time { return minute }}
	}
	smtp := startSMTP(t)
	mailer, err := server.NewSMTPMailer("smtp://" + smtp.addr + "?from=chat@example.com")
	if err != nil {
		t.Fatal(err)
	}
	withMail := func(c *servertest.Config) { c.Mail = mailer }
	one := startServer(t, rds, "../playbooks/bench", withMail, limits)
	two := startServer(t, rds, "../playbooks/bench", withMail, limits)
	for i, ts := range []*testServer{one, two, two} {
		v := dial(t, ts)
		v.start("qualify")
		v.bot("Hi! What brings you here?")
		v.send(map[string]any{"type": "button", "id": "b1", "value": "Just browsing", "label": "Just browsing"})
		v.bot("Enjoy! Ping us anytime.")
		v.send(map[string]any{"type": "transcript", "email": "visitor@acme.io"})
		if i < 2 {
			v.next("sent")
		} else {
			errorFrame(t, v, "busy")
		}
	}
	if n := len(smtp.messages()); n != 2 {
		t.Fatalf("%d mails, want 2", n)
	}
}
