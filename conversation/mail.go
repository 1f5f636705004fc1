package conversation

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/playbook-dev/playbook/access"
	"github.com/playbook-dev/playbook/handoff"
	"github.com/playbook-dev/playbook/protocol"
	"github.com/playbook-dev/playbook/store"
	"github.com/playbook-dev/playbook/transcript"
)

// Transcripts by email: the rules of who may get which copy. The sending
// itself is a Mailer (internal/smtpmail sends through an SMTP server).

// Mailer sends a plain-text email.
type Mailer interface {
	Send(ctx context.Context, to, subject, body string) error
}

// mailQuota counts visitors' transcript mails, per conversation and over
// all processes (Config.MailQuota, Config.MailLimits).
func (s *Service) mailQuota() *transcript.Quota {
	lim := s.cfg.MailLimits
	if lim.Now == nil {
		lim.Now = s.now
	}
	return transcript.NewQuota(s.cfg.MailQuota, lim)
}

// MailOn reports whether transcripts can be emailed (Config.Mail is set):
// the widget and the inbox offer it only then.
func (s *Service) MailOn() bool { return s.cfg.Mail != nil }

// MailTranscript emails conversation conv's transcript, as agent a (who
// must be allowed on conv) asks: the visitor's copy (no private notes, no
// deleted text) to any one address; or, internal, the agents' copy with
// notes, only to an agent who may read conv (a when to is blank).
func (s *Service) MailTranscript(ctx context.Context, a *handoff.Agent, conv, to string, internal bool) error {
	c, err := s.Conversation(ctx, a, conv)
	if err != nil {
		return err
	}
	if s.cfg.Mail == nil {
		return ErrNoMail
	}
	if internal && strings.TrimSpace(to) == "" {
		to = a.Email
	}
	addr, err := transcript.Address(to)
	if err != nil {
		return refuse(transcript.ErrBadAddress, "\"to\" must be one email address, like name@example.com")
	}
	if internal {
		got, err := s.inbox.AgentByEmail(ctx, addr)
		if err != nil || !access.CanSee(got, c) {
			return transcript.ErrNotAgent
		}
	}
	return s.sendTranscript(ctx, c, addr, internal)
}

// MailVisitorTranscript emails conversation conv's transcript (the
// visitor's copy) to its visitor at address to, once the conversation is
// over (handoff.Finished), a few times, and only to the visitor's own
// address: the one the conversation knows (the widget's, else the bot's
// var email), else the first one used (package transcript's Quota). A
// mail that could not be sent does not count.
func (s *Service) MailVisitorTranscript(ctx context.Context, conv, to string) error {
	if s.cfg.Mail == nil || s.cfg.MailQuota == nil {
		return ErrNoMail
	}
	meta, err := s.inbox.Conversation(ctx, conv)
	if err != nil {
		if errors.Is(err, handoff.ErrNotFound) {
			return refuse(handoff.ErrNotFound, "this conversation cannot be found")
		}
		return err
	}
	sess, _, err := s.store.Load(ctx, conv)
	if err != nil {
		return err
	}
	if !handoff.Finished(meta, sess.Status) {
		return transcript.ErrNotEnded
	}
	known := meta.Visitor.Email
	if e, ok := sess.Vars["email"].(string); ok && known == "" {
		known = e
	}
	q := s.mailQuota()
	addr, err := q.Claim(ctx, conv, to, known)
	if errors.Is(err, transcript.ErrBadAddress) {
		return refuse(transcript.ErrBadAddress, "email must be one email address, like name@example.com")
	}
	if err != nil {
		return err
	}
	if err := s.sendTranscript(ctx, meta, addr, false); err != nil {
		q.Release(ctx, conv)
		return err
	}
	return nil
}

// sendTranscript sends c's transcript (live, else archived) to one
// address: the visitor's copy (transcript.Visitor, the only rendering for
// mail that may reach a visitor), or the agents' copy with notes when
// internal. The mail server's error is logged; the caller gets
// ErrMailFailed.
func (s *Service) sendTranscript(ctx context.Context, c *handoff.Conversation, to string, internal bool) error {
	entries, err := s.store.Transcript(ctx, c.ID, "", 0)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		if archived, ok := s.ArchivedTranscript(ctx, c.ID, ""); ok {
			entries = archived
		}
	}
	subject, body := "Your conversation with us", transcript.Visitor(c, entries)
	if internal {
		subject, body = "Internal transcript of conversation "+c.ID+" (with private notes)", transcript.Internal(c, entries)
	}
	if err := s.cfg.Mail.Send(ctx, to, subject, body); err != nil {
		s.log.Warn("sending transcript", "conversation", c.ID, "internal", internal, "err", err)
		return ErrMailFailed
	}
	return nil
}

// ArchivedTranscript returns the archived copy of an expired
// conversation's transcript (older versions copied it into the CRM when
// the chat had a person; the transcript is now kept instead), its entries after the stream id after ("" or "0": all); false
// when there is none.
func (s *Service) ArchivedTranscript(ctx context.Context, conv, after string) ([]store.Entry, bool) {
	b, err := s.crm.ArchivedTranscript(ctx, conv)
	if err != nil {
		return nil, false
	}
	entries, err := store.DecodeEntries(b)
	if err != nil {
		return nil, false
	}
	if after != "" && after != "0" {
		a := protocol.ParseEntryID(after)
		entries = slices.DeleteFunc(entries, func(e store.Entry) bool { return !a.Less(protocol.ParseEntryID(e.ID)) })
	}
	return entries, true
}
