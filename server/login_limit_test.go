package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/playbook-dev/playbook/internal/redistest"
)

// loginAs posts one sign-in and returns the status code.
func loginAs(t *testing.T, ts *testServer, email, password string, hdr http.Header) int {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"email": email, "password": password})
	req, _ := http.NewRequest("POST", ts.url+"/api/auth/login", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header[k] = v
	}
	// The timeout only guards against a hang: bcrypt on a loaded machine
	// is slow.
	resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
	if err != nil {
		t.Error(err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestLoginLimitHoldsUnderParallelGuesses: 40 wrong guesses sent at once,
// with the email in case and space variants, get at most 5 tries at the
// password (per normalized email); the rest, and then the right password,
// get 429.
func TestLoginLimitHoldsUnderParallelGuesses(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	addAgent(t, ts, "sam", "sales")
	variants := []string{"sam@example.com", "sam@example.com ", " SAM@example.com", "Sam@Example.COM", "\tsam@example.com\n"}
	codes := make([]int, 40)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = loginAs(t, ts, variants[i%len(variants)], "wrong guess", nil)
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusUnauthorized] != 5 || count[http.StatusTooManyRequests] != 35 {
		t.Fatalf("40 parallel wrong guesses: %v, want 5 × 401 and 35 × 429", count)
	}
	if code := loginAs(t, ts, "sam@example.com", "correct horse", nil); code != http.StatusTooManyRequests {
		t.Fatalf("right password after the burst: %d, want 429", code)
	}
}

// TestLoginLimitPerAddress: one address trying many accounts is stopped
// after 20 attempts, whichever emails it types; right passwords do not
// count.
func TestLoginLimitPerAddress(t *testing.T) {
	rds := redistest.New(t)
	ts := startServer(t, rds, "../playbooks/bench")
	ann := addAgent(t, ts, "ann", "sales")
	for range 3 { // successes give their attempt back
		if code := loginAs(t, ts, ann.Email, "correct horse", nil); code != 200 {
			t.Fatalf("right password: %d", code)
		}
	}
	codes := make([]int, 30)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = loginAs(t, ts, string(rune('a'+i%26))+"x"+string(rune('0'+i/26))+"@example.com", "guess", nil)
		}()
	}
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	if count[http.StatusUnauthorized] != 20 || count[http.StatusTooManyRequests] != 10 {
		t.Fatalf("30 guesses on 30 emails from one address: %v, want 20 × 401 and 10 × 429", count)
	}
	if code := loginAs(t, ts, ann.Email, "correct horse", nil); code != http.StatusTooManyRequests {
		t.Fatalf("right password from the blocked address: %d, want 429", code)
	}
}
