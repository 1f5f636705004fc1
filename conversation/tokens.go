package conversation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/playbook-dev/playbook/store"
)

// Token errors. Their text is the protocol's error code (bad_token,
// expired_token); Problem maps them.
var (
	ErrBadToken     = errors.New("bad_token")
	ErrExpiredToken = errors.New("expired_token")
)

// Tokens signs and checks visitor session tokens:
// CONVERSATION.EXPIRY.SIGNATURE, with an HMAC-SHA256 over the first two.
// EXPIRY is in Unix seconds.
//
// With a configured secret (NewTokens) that is all. Without one
// (NewSharedTokens), the secret is shared through the store, and Redis
// may lose it (FLUSHALL, a failover to an empty replica): a process that
// still has the secret writes it back (SyncSecret stores it unless one is
// stored) instead of a new one being made, and when another process made
// a new one anyway, both keep accepting the tokens of the other (the
// accepted secrets, AcceptSecrets). At most maxSecrets are accepted.
type Tokens struct {
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

// NewTokens returns tokens signed with a configured secret, valid for ttl.
func NewTokens(secret []byte, ttl time.Duration) *Tokens {
	return &Tokens{ttl: ttl, signKey: secret, accept: [][]byte{secret}}
}

// NewSharedTokens reads (or creates, once for every process) the token
// secret kept in st; tokens are valid for ttl.
func NewSharedTokens(ctx context.Context, st store.Secrets, ttl time.Duration) (*Tokens, error) {
	t := &Tokens{ttl: ttl, shared: &sharedSecrets{st: st}}
	if err := t.sync(ctx, []byte(NewID()+NewID())); err != nil {
		return nil, err
	}
	return t, nil
}

// sync makes the process and the store agree on the secrets: the stored
// secret is kept (or ours is written back when Redis lost it); when it is
// not ours, ours goes to the set of accepted secrets (tokens signed with it
// are out there) and the stored one signs from now on; every secret of the
// set is accepted.
func (t *Tokens) sync(ctx context.Context, own []byte) error {
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

// Check re-reads the shared secret (see Tokens); a no-op for a configured
// one. Call it every few seconds, so that a process that still has the
// secret puts it back soon after Redis lost it.
func (t *Tokens) Check(ctx context.Context) error {
	if t.shared == nil {
		return nil
	}
	t.shared.refresh.Lock()
	defer t.shared.refresh.Unlock()
	t.shared.last = time.Now()
	return t.sync(ctx, t.signing())
}

func (t *Tokens) signing() []byte {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.signKey
}

// Sign returns a token for conversation conv, valid from now for the ttl.
// The token is its one allocation: it is built in a pooled macState's
// buffer.
func (t *Tokens) Sign(conv string, now time.Time) string {
	m := getMAC(t.signing())
	defer macs.Put(m)
	b := append(m.buf[:0], conv...)
	b = append(b, '.')
	b = strconv.AppendInt(b, now.Add(t.ttl).Unix(), 10)
	b = m.appendSum(b, b)
	m.buf = b
	return string(b)
}

func mac(secret []byte, s string) string {
	m := getMAC(secret)
	defer macs.Put(m)
	m.buf = append(m.buf[:0], s...)
	return string(m.appendSum(m.buf[len(m.buf):], m.buf)[1:]) // without the "."
}

// macState is an HMAC-SHA256 of one secret with room for what it signs,
// kept in a pool (macs): a new HMAC is a key schedule and two digests, a
// handful of allocations a token.
type macState struct {
	key []byte // the secret h is keyed with
	h   hash.Hash
	sum [sha256.Size]byte
	buf []byte
}

var macs sync.Pool // of *macState

// getMAC returns a pooled macState keyed with secret, reset; put it back
// in macs when done.
func getMAC(secret []byte) *macState {
	m, _ := macs.Get().(*macState)
	if m == nil {
		m = &macState{buf: make([]byte, 0, 128)}
	}
	if m.h == nil || !hmac.Equal(m.key, secret) {
		m.key, m.h = secret, hmac.New(sha256.New, secret)
	} else {
		m.h.Reset()
	}
	return m
}

// appendSum appends to dst "." and the signature of s (base64url, no
// padding).
func (m *macState) appendSum(dst, s []byte) []byte {
	m.h.Write(s)
	sum := m.h.Sum(m.sum[:0])
	dst = append(dst, '.')
	return base64.RawURLEncoding.AppendEncode(dst, sum)
}

// Verify returns the conversation id of a valid token. A token no known
// secret signed makes a shared secret be re-read once (another process may
// have made or published one) before it is refused with ErrBadToken; a
// token past its expiry at now is refused with ErrExpiredToken.
func (t *Tokens) Verify(ctx context.Context, tok string, now time.Time) (string, error) {
	conv, err := t.verifyKnown(tok, now)
	if !errors.Is(err, ErrBadToken) || t.shared == nil || !wellFormed(tok) {
		return conv, err
	}
	started := time.Now()
	t.shared.refresh.Lock()
	// A re-read that began while we waited answers for us too.
	fresh := !t.shared.last.Before(started)
	t.shared.refresh.Unlock()
	if !fresh {
		if err := t.Check(ctx); err != nil {
			return "", ErrBadToken
		}
	}
	return t.verifyKnown(tok, now)
}

func wellFormed(tok string) bool {
	parts := strings.Split(tok, ".")
	return len(parts) == 3 && parts[0] != "" && len(tok) <= 200
}

func (t *Tokens) verifyKnown(tok string, now time.Time) (string, error) {
	if !wellFormed(tok) {
		return "", ErrBadToken
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
		return "", ErrBadToken
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", ErrBadToken
	}
	if now.Unix() > exp {
		return "", ErrExpiredToken
	}
	return parts[0], nil
}

// signWith signs s with the current secret (for other signed things than
// session tokens, such as file URLs: s starts with what it is).
func (t *Tokens) signWith(s string) string { return mac(t.signing(), s) }

// checkWith reports whether sig is a signature of s by an accepted secret.
func (t *Tokens) checkWith(s, sig string) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, k := range t.accept {
		if hmac.Equal([]byte(mac(k, s)), []byte(sig)) {
			return true
		}
	}
	return false
}
