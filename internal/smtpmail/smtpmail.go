// Package smtpmail sends plain-text email through an SMTP server: the
// adapter behind conversation.Mailer. It knows nothing of transcripts.
package smtpmail

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/mail"
	"net/smtp"
	"net/url"
	"strings"
	"time"
)

// Mailer sends through an SMTP server, using STARTTLS when the server
// offers it.
type Mailer struct {
	Addr string // host:port
	From string
	Auth smtp.Auth // nil for none
}

// New reads smtp://user:password@host:port?from=chat@example.com (port
// default 587).
func New(raw string) (*Mailer, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "smtp" || u.Host == "" {
		return nil, fmt.Errorf("--smtp must look like smtp://user:password@host:587?from=chat@example.com")
	}
	from := u.Query().Get("from")
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("--smtp needs ?from=ADDRESS: %v", err)
	}
	m := &Mailer{Addr: u.Host, From: from}
	if !strings.Contains(u.Host, ":") {
		m.Addr += ":587"
	}
	if u.User != nil {
		pw, _ := u.User.Password()
		host, _, _ := net.SplitHostPort(m.Addr)
		m.Auth = smtp.PlainAuth("", u.User.Username(), pw, host)
	}
	return m, nil
}

// Send sends a plain-text email to one address. It returns when the
// server accepted it, or when ctx is done (the SMTP exchange is then left
// to finish on its own).
func (m *Mailer) Send(ctx context.Context, to, subject, body string) error {
	addr, err := mail.ParseAddress(to)
	if err != nil {
		return fmt.Errorf("%q is not an email address", to)
	}
	var msg strings.Builder
	fmt.Fprintf(&msg, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n",
		m.From, addr.Address, mime.QEncoding.Encode("utf-8", subject), time.Now().UTC().Format(time.RFC1123Z))
	msg.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	done := make(chan error, 1)
	go func() { done <- smtp.SendMail(m.Addr, m.Auth, m.From, []string{addr.Address}, []byte(msg.String())) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
