package server

import (
	"net/http"

	"github.com/labstack/echo/v5"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/smtpmail"
	"github.com/playbook-dev/playbook/protocol"
)

// Mailer sends an email (conversation.Mailer): Config.Mail.
type Mailer = conversation.Mailer

// SMTPMailer sends through an SMTP server, using STARTTLS when the server
// offers it.
type SMTPMailer = smtpmail.Mailer

// NewSMTPMailer reads smtp://user:password@host:port?from=chat@example.com.
func NewSMTPMailer(raw string) (*SMTPMailer, error) { return smtpmail.New(raw) }

// emailTranscript answers POST /api/conversations/{id}/transcript/email
// (protocol.TranscriptEmailRequest): the visitor's copy to the address the
// agent types, or the internal copy with notes to an agent who may read
// the conversation (conversation.MailTranscript decides).
func (s *Server) emailTranscript(c *echo.Context) error {
	var req protocol.TranscriptEmailRequest
	if err := decodeJSON(c, &req, 1<<10); err != nil {
		return err
	}
	if err := s.svc.MailTranscript(c.Request().Context(), agentOf(c), c.Param("id"), req.To, req.Internal); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
