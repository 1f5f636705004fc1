package conversation_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/conversation"
)

func TestTokensSignVerifyExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 8, 10, 0, 0, 0, time.UTC)
	tk := conversation.NewTokens([]byte("s3cret"), time.Hour)
	tok := tk.Sign("abc", now)
	if conv, err := tk.Verify(ctx, tok, now.Add(59*time.Minute)); err != nil || conv != "abc" {
		t.Fatalf("Verify within the ttl = %q, %v; want abc", conv, err)
	}
	if _, err := tk.Verify(ctx, tok, now.Add(61*time.Minute)); !errors.Is(err, conversation.ErrExpiredToken) {
		t.Fatalf("Verify after the ttl: %v, want ErrExpiredToken", err)
	}
	parts := strings.Split(tok, ".")
	for name, bad := range map[string]string{
		"other conversation": "abd." + parts[1] + "." + parts[2],
		"later expiry":       parts[0] + ".9999999999." + parts[2],
		"no signature":       parts[0] + "." + parts[1],
		"other secret":       conversation.NewTokens([]byte("other"), time.Hour).Sign("abc", now),
		"empty":              "",
		"too long":           strings.Repeat("a", 190) + "." + parts[1] + "." + parts[2],
	} {
		if _, err := tk.Verify(ctx, bad, now); !errors.Is(err, conversation.ErrBadToken) {
			t.Errorf("%s: Verify = %v, want ErrBadToken", name, err)
		}
	}
}

// memSecrets is a store.Secrets in memory that can lose its data, as
// Redis does on FLUSHALL or a failover to an empty replica.
type memSecrets struct {
	mu       sync.Mutex
	current  []byte
	accepted [][]byte
}

func (m *memSecrets) SyncSecret(_ context.Context, own []byte) ([]byte, [][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.current == nil {
		m.current = own
	}
	return m.current, slices.Clone(m.accepted), nil
}

func (m *memSecrets) AcceptSecrets(_ context.Context, secrets [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accepted = append(m.accepted, secrets...)
	return nil
}

func (m *memSecrets) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current, m.accepted = nil, nil
}

// TestSharedTokensAfterTheStoreLostTheSecret: processes share the secret
// through the store; the store loses it and a restarted process makes a
// new one before the others write theirs back. Tokens of either secret
// verify on every process: the old one's are re-read on the first token
// a process does not know.
func TestSharedTokensAfterTheStoreLostTheSecret(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	st := &memSecrets{}
	a, err := conversation.NewSharedTokens(ctx, st, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := conversation.NewSharedTokens(ctx, st, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	old := a.Sign("one", now)
	if conv, err := b.Verify(ctx, old, now); err != nil || conv != "one" {
		t.Fatalf("b.Verify(a's token) = %q, %v", conv, err)
	}
	st.forget()
	c, err := conversation.NewSharedTokens(ctx, st, time.Hour) // the restarted process
	if err != nil {
		t.Fatal(err)
	}
	fresh := c.Sign("two", now)
	if _, err := c.Verify(ctx, old, now); !errors.Is(err, conversation.ErrBadToken) {
		t.Fatalf("before a re-read, c.Verify(old token) = %v, want ErrBadToken", err)
	}
	if err := a.Check(ctx); err != nil { // the sweep's re-read
		t.Fatal(err)
	}
	if conv, err := c.Verify(ctx, old, now); err != nil || conv != "one" {
		t.Fatalf("c.Verify(old token) after a's re-read = %q, %v", conv, err)
	}
	if conv, err := a.Verify(ctx, fresh, now); err != nil || conv != "two" {
		t.Fatalf("a.Verify(c's token) = %q, %v", conv, err)
	}
	// b re-reads on the first token it does not know.
	if conv, err := b.Verify(ctx, fresh, now); err != nil || conv != "two" {
		t.Fatalf("b.Verify(c's token) = %q, %v", conv, err)
	}
	if conv, err := b.Verify(ctx, a.Sign("three", now), now); err != nil || conv != "three" {
		t.Fatalf("b.Verify(a's new token) = %q, %v", conv, err)
	}
}
