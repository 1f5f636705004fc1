package server

import (
	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/smtpmail"
)

// Mailer sends an email (conversation.Mailer): Config.Mail.
type Mailer = conversation.Mailer

// SMTPMailer sends through an SMTP server, using STARTTLS when the server
// offers it.
type SMTPMailer = smtpmail.Mailer

// NewSMTPMailer reads smtp://user:password@host:port?from=chat@example.com.
func NewSMTPMailer(raw string) (*SMTPMailer, error) { return smtpmail.New(raw) }
