package store

import (
	"context"
	"time"
)

// MailQuota keeps the counts that bound the transcripts visitors may have
// mailed (package transcript decides; an engine counts, atomically and
// shared by every process using the store).
type MailQuota interface {
	// ClaimMail takes one mail of conversation conv to addr: the first
	// address used becomes the conversation's only one, and at most max
	// are taken; the count is kept for keep. It answers "ok", "other" (the
	// conversation's address is another) or "many" (max reached).
	ClaimMail(ctx context.Context, conv, addr string, max int, keep time.Duration) (string, error)
	// ReleaseMail gives back one mail of conv that could not be sent.
	ReleaseMail(ctx context.Context, conv string) error
	// CountMail adds one to the counter of a period (every process shares
	// it; it is kept for keep) and returns the new count.
	CountMail(ctx context.Context, period string, keep time.Duration) (int64, error)
}
