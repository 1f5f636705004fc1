package smtpmail

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// TestNew: the --smtp URL gives the address (port 587 by default), the
// sender and the credentials; a URL without a sender or of another
// scheme is refused.
func TestNew(t *testing.T) {
	m, err := New("smtp://chat:s3cret@mail.example.com?from=chat@example.com")
	if err != nil || m.Addr != "mail.example.com:587" || m.From != "chat@example.com" || m.Auth == nil {
		t.Fatalf("New = %+v, %v", m, err)
	}
	m, err = New("smtp://127.0.0.1:2525?from=Chat%20<chat@example.com>")
	if err != nil || m.Addr != "127.0.0.1:2525" || m.Auth != nil {
		t.Fatalf("New without credentials = %+v, %v", m, err)
	}
	for _, bad := range []string{"smtp://mail.example.com", "http://mail.example.com?from=a@b.io", "smtp://?from=a@b.io", "smtp://h?from=not-an-address"} {
		if m, err := New(bad); err == nil {
			t.Errorf("New(%q) = %+v, want an error", bad, m)
		}
	}
}

// oneMail is an SMTP server on loopback that takes one message and sends
// its DATA on got.
func oneMail(t *testing.T) (addr string, got <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ch := make(chan string, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(conn)
		say := func(s string) { conn.Write([]byte(s + "\r\n")) }
		say("220 test ESMTP")
		var data strings.Builder
		for inData := false; ; {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if inData {
				if line == ".\r\n" {
					inData = false
					ch <- data.String()
					say("250 queued")
					continue
				}
				data.WriteString(line)
				continue
			}
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "EHLO", "HELO":
				say("250 test")
			case "DATA":
				inData = true
				say("354 go on")
			case "QUIT":
				say("221 bye")
				return
			default:
				say("250 ok")
			}
		}
	}()
	return ln.Addr().String(), ch
}

// TestSend: one plain-text message in UTF-8 to the one address, its
// subject MIME-encoded, its lines ending in CRLF; no address, no message.
func TestSend(t *testing.T) {
	addr, got := oneMail(t)
	m, err := New("smtp://" + addr + "?from=chat@example.com")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Send(ctx, "Ana <ana@acme.io>, bob@b.io", "Hi", "x"); err == nil {
		t.Fatal("a mail to two addresses was sent")
	}
	if err := m.Send(ctx, "ana@acme.io", "Ihre Unterhaltung – danke", "Zeile eins\nZeile zwei"); err != nil {
		t.Fatal(err)
	}
	var msg string
	select {
	case msg = <-got:
	case <-ctx.Done():
		t.Fatal("the server got no message")
	}
	for _, want := range []string{"From: chat@example.com\r\n", "To: ana@acme.io\r\n", "Subject: =?utf-8?q?", "Content-Type: text/plain; charset=utf-8\r\n", "\r\n\r\nZeile eins\r\nZeile zwei"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the message lacks %q:\n%s", want, msg)
		}
	}
}
