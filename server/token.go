package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Token errors, reported to clients as error codes.
var (
	errBadToken     = errors.New("bad_token")
	errExpiredToken = errors.New("expired_token")
)

// tokens signs and checks visitor session tokens:
// CONVERSATION.EXPIRY.SIGNATURE, with an HMAC-SHA256 over the first two.
//
// With a configured secret (--secret, PLAYBOOK_SECRET) that is all. Without
// one, the secret is shared through the store (shared != nil), and Redis
// may lose it (FLUSHALL, a failover to an empty replica): a process that
// still has the secret writes it back (SyncSecret stores it unless one is
// stored) instead of a new one being made, and when another process made a
// new one anyway, both keep accepting the tokens of the other (the
// accepted secrets, AcceptSecrets).
type tokens struct {
	ttl     time.Duration
	shared  *sharedSecrets // nil: the secret was configured
	mu      sync.RWMutex
	signKey []byte   // the secret new tokens are signed with
	accept  [][]byte // every secret a token may be signed with; signKey first
}

// sharedSecrets is the shared secret's store.
type sharedSecrets struct {
	st store.Secrets
	// refresh serializes re-reads, so a burst of bad tokens costs one.
	refresh sync.Mutex
	last    time.Time
}

// maxSecrets bounds how many secrets are accepted at once.
const maxSecrets = 16

func newTokens(secret []byte, ttl time.Duration) *tokens {
	return &tokens{ttl: ttl, signKey: secret, accept: [][]byte{secret}}
}

// newSharedTokens reads (or creates, once for every process) the token
// secret kept in the store.
func newSharedTokens(ctx context.Context, st store.Secrets, ttl time.Duration) (*tokens, error) {
	t := &tokens{ttl: ttl, shared: &sharedSecrets{st: st}}
	if err := t.sync(ctx, []byte(newID()+newID())); err != nil {
		return nil, err
	}
	return t, nil
}

// sync makes the process and the store agree on the secrets: the stored
// secret is kept (or ours is written back when Redis lost it); when it is
// not ours, ours goes to the set of accepted secrets (tokens signed with it
// are out there) and the stored one signs from now on; every secret of the
// set is accepted.
func (t *tokens) sync(ctx context.Context, own []byte) error {
	sh := t.shared
	stored, members, err := sh.st.SyncSecret(ctx, own)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var publish [][]byte
	if t.signKey != nil && !hmac.Equal(stored, t.signKey) {
		// Another process made a new secret after Redis lost ours: tell
		// every process to accept the tokens we signed.
		for _, s := range t.accept {
			if !hmac.Equal(s, stored) {
				publish = append(publish, s)
			}
		}
	}
	known := [][]byte{stored}
	for _, s := range append(t.accept, members...) {
		if !slices.ContainsFunc(known, func(k []byte) bool { return hmac.Equal(k, s) }) && len(known) < maxSecrets {
			known = append(known, s)
		}
	}
	t.signKey, t.accept = stored, known
	if len(publish) > 0 {
		if err := sh.st.AcceptSecrets(ctx, publish); err != nil {
			return err
		}
	}
	return nil
}

// check re-reads the shared secret (see sync); a no-op for a configured
// one. The sweep calls it every few seconds, so a process that still has
// the secret puts it back soon after Redis lost it.
func (t *tokens) check(ctx context.Context) error {
	if t.shared == nil {
		return nil
	}
	t.shared.refresh.Lock()
	defer t.shared.refresh.Unlock()
	t.shared.last = time.Now()
	return t.sync(ctx, t.signing())
}

func (t *tokens) signing() []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.signKey
}

func (t *tokens) sign(conv string, now time.Time) string {
	exp := strconv.FormatInt(now.Add(t.ttl).Unix(), 10)
	return conv + "." + exp + "." + mac(t.signing(), conv+"."+exp)
}

func mac(secret []byte, s string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the conversation id of a valid token. A token no known
// secret signed makes a shared secret be re-read once (another process may
// have made or published one) before it is refused with errBadToken.
func (t *tokens) verify(ctx context.Context, tok string, now time.Time) (string, error) {
	conv, err := t.verifyKnown(tok, now)
	if !errors.Is(err, errBadToken) || t.shared == nil || !wellFormed(tok) {
		return conv, err
	}
	started := time.Now()
	t.shared.refresh.Lock()
	// A re-read that began while we waited answers for us too.
	fresh := !t.shared.last.Before(started)
	t.shared.refresh.Unlock()
	if !fresh {
		if err := t.check(ctx); err != nil {
			return "", errBadToken
		}
	}
	return t.verifyKnown(tok, now)
}

func wellFormed(tok string) bool {
	parts := strings.Split(tok, ".")
	return len(parts) == 3 && parts[0] != "" && len(tok) <= 200
}

func (t *tokens) verifyKnown(tok string, now time.Time) (string, error) {
	if !wellFormed(tok) {
		return "", errBadToken
	}
	parts := strings.Split(tok, ".")
	t.mu.RLock()
	ok := false
	for _, s := range t.accept {
		if hmac.Equal([]byte(mac(s, parts[0]+"."+parts[1])), []byte(parts[2])) {
			ok = true
			break
		}
	}
	t.mu.RUnlock()
	if !ok {
		return "", errBadToken
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", errBadToken
	}
	if now.Unix() > exp {
		return "", errExpiredToken
	}
	return parts[0], nil
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns 128 random bits as 26 lowercase letters and digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}
