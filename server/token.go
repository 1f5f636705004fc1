package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Token errors, reported to clients as error codes.
var (
	errBadToken     = errors.New("bad_token")
	errExpiredToken = errors.New("expired_token")
)

// tokens signs and checks visitor session tokens:
// CONVERSATION.EXPIRY.SIGNATURE, with an HMAC-SHA256 over the first two.
type tokens struct {
	secret []byte
	ttl    time.Duration
}

func (t tokens) sign(conv string, now time.Time) string {
	exp := strconv.FormatInt(now.Add(t.ttl).Unix(), 10)
	return conv + "." + exp + "." + t.mac(conv+"."+exp)
}

func (t tokens) mac(s string) string {
	m := hmac.New(sha256.New, t.secret)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the conversation id of a valid token.
func (t tokens) verify(tok string, now time.Time) (string, error) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || parts[0] == "" || len(tok) > 200 {
		return "", errBadToken
	}
	want := t.mac(parts[0] + "." + parts[1])
	if !hmac.Equal([]byte(want), []byte(parts[2])) {
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
