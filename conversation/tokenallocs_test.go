package conversation_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
	"github.com/playbook-dev/playbook/internal/race"
)

// TestSignAllocations: a start's session token is the token's one string:
// the HMAC (its key schedule, its two digests, the sum), the expiry's
// digits and the signature's base64 are made in memory reused from token
// to token (docs/benchmarks.md, "serve's own turn path, the twelfth
// round").
func TestSignAllocations(t *testing.T) {
	race.SkipAllocCounts(t)
	tk := conversation.NewTokens([]byte("s3cret"), time.Hour)
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	tk.Sign("0123456789abcdef0123456789", now)
	allocs := testing.AllocsPerRun(100, func() { tk.Sign("0123456789abcdef0123456789", now) })
	t.Logf("%.1f allocations a token", allocs)
	if allocs > 1 {
		t.Errorf("signing a token allocates %.1f times, want at most 1 (the token)", allocs)
	}
}

// TestSignIsTheHMAC: a token is CONVERSATION.EXPIRY.SIGNATURE, the
// signature the HMAC-SHA256 of the first two under the secret, base64url
// without padding, whichever secret signed last (the pooled HMAC of one
// secret is not used for another).
func TestSignIsTheHMAC(t *testing.T) {
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	for _, secret := range []string{"s3cret", "other", "s3cret"} {
		tk := conversation.NewTokens([]byte(secret), time.Hour)
		for _, conv := range []string{"abc", "0123456789abcdef0123456789"} {
			body := conv + "." + strconv.FormatInt(now.Add(time.Hour).Unix(), 10)
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte(body))
			want := body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
			if got := tk.Sign(conv, now); got != want {
				t.Errorf("secret %s, conversation %s: Sign = %q, want %q", secret, conv, got, want)
			}
		}
	}
}
