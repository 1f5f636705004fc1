package transcript

import (
	"context"
	"errors"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Errors of the package. The server maps them to stable codes; their text
// is written for people.
var (
	ErrNoMail       = errors.New("email is not set up on this server")
	ErrBadAddress   = errors.New("that is not an email address")
	ErrNotEnded     = errors.New("the transcript can be emailed once the conversation has ended")
	ErrOtherAddress = errors.New("this conversation's transcript can only go to the address it was first sent to (or the one you gave us)")
	ErrTooMany      = errors.New("this conversation's transcript has already been sent as often as it can be")
	ErrBusy         = errors.New("too many transcripts are being sent right now; try again in a few minutes")
	ErrNotAgent     = errors.New("the internal copy (with private notes) only goes to the address of an agent who may read this conversation")
)

// Default limits of visitor requests (docs/protocol.md, SECURITY.md).
const (
	DefaultPerConversation = 3
	DefaultPerMinute       = 30
	DefaultKeep            = 90 * 24 * time.Hour
)

// Limits bound the mails visitors can ask for. Zero values take the
// defaults.
type Limits struct {
	// PerConversation is how many transcripts one conversation's visitor
	// may have mailed; default 3.
	PerConversation int
	// PerMinute is how many visitor transcripts all server processes
	// together send a minute (a counter in the store, one per minute);
	// default 30.
	PerMinute int
	// Keep is how long a conversation's count and address are kept;
	// default 90 days.
	Keep time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Quota bounds visitors' transcript mails: the address and count of each
// conversation's mails and the global count per minute, kept in a storage
// engine (store.MailQuota) shared by every process. It is safe for
// concurrent use by any number of processes.
type Quota struct {
	st  store.MailQuota
	lim Limits
}

// NewQuota returns a Quota on st.
func NewQuota(st store.MailQuota, lim Limits) *Quota {
	if lim.PerConversation <= 0 {
		lim.PerConversation = DefaultPerConversation
	}
	if lim.PerMinute <= 0 {
		lim.PerMinute = DefaultPerMinute
	}
	if lim.Keep <= 0 {
		lim.Keep = DefaultKeep
	}
	if lim.Now == nil {
		lim.Now = time.Now
	}
	return &Quota{st: st, lim: lim}
}

// Address returns the bare, lower-case address of s, or ErrBadAddress.
func Address(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 254 || strings.ContainsAny(s, "\r\n,;") {
		return "", ErrBadAddress
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || !strings.Contains(a.Address, "@") {
		return "", ErrBadAddress
	}
	return strings.ToLower(a.Address), nil
}

// Claim reserves one visitor mail of conversation conv to address to.
// known is the visitor's address the conversation already has (given to
// the widget or collected by the bot), "" if none: when there is one, only
// it is accepted; otherwise the first address used is the only one. It
// returns the normalized address, or ErrBadAddress, ErrOtherAddress,
// ErrTooMany, ErrBusy, or a store error. Release gives the claim back
// when the mail could not be sent.
func (q *Quota) Claim(ctx context.Context, conv, to, known string) (string, error) {
	addr, err := Address(to)
	if err != nil {
		return "", err
	}
	if k, err := Address(known); err == nil && k != addr {
		return "", ErrOtherAddress
	}
	res, err := q.st.ClaimMail(ctx, conv, addr, q.lim.PerConversation, q.lim.Keep)
	if err != nil {
		return "", err
	}
	switch res {
	case "other":
		return "", ErrOtherAddress
	case "many":
		return "", ErrTooMany
	}
	// The global cap: one counter a minute shared by every process.
	minute := q.lim.Now().UTC().Unix() / 60
	n, err := q.st.CountMail(ctx, strconv.FormatInt(minute, 10), 2*time.Minute)
	if err != nil {
		q.Release(ctx, conv)
		return "", err
	}
	if n > int64(q.lim.PerMinute) {
		q.Release(ctx, conv)
		return "", ErrBusy
	}
	return addr, nil
}

// Release gives back a claim whose mail was not sent.
func (q *Quota) Release(ctx context.Context, conv string) {
	_ = q.st.ReleaseMail(context.WithoutCancel(ctx), conv)
}
