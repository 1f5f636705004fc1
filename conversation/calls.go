package conversation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/netpolicy"
)

// CallPolicy says which hosts call cards may reach. A call must pass both
// the playbook's own allow_hosts (checked when it compiles) and this policy.
type CallPolicy struct {
	// AllowHosts, when not empty, further limits calls to these hosts
	// ("api.example.com", "*.example.com").
	AllowHosts []string
	// AllowPrivate lets calls reach special-purpose addresses (loopback,
	// private, link-local and the rest of the IANA special-purpose
	// registries). Off by default, so a playbook cannot probe the server's
	// own network or a cloud metadata service.
	AllowPrivate bool
	// MaxBody caps the response body read, in bytes; default 1 MiB.
	MaxBody int64
}

// Caller makes the HTTP calls of call cards under a CallPolicy.
type Caller struct {
	policy CallPolicy
	client *http.Client
}

// NewCaller returns a Caller under policy p.
func NewCaller(p CallPolicy) *Caller {
	if p.MaxBody <= 0 {
		p.MaxBody = 1 << 20
	}
	c := &Caller{policy: p}
	dialer := &net.Dialer{Timeout: 5 * time.Second, Control: c.checkAddress}
	c.client = &http.Client{
		Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 4, IdleConnTimeout: 30 * time.Second},
		// Redirects are not followed: a redirect could lead to a host the
		// playbook was not allowed to reach.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c
}

// checkAddress refuses connections to special-purpose addresses (every
// range of the IANA registries: loopback, private, shared, link-local and
// cloud metadata, NAT64, 6to4, documentation, reserved...; see package
// netpolicy) unless allowed. It runs in the dialer after DNS resolution,
// for every address tried, so a name that resolves (or rebinds) to one is
// refused too.
func (c *Caller) checkAddress(network, address string, _ syscall.RawConn) error {
	if c.policy.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("address %s: %w", address, err)
	}
	if err := netpolicy.CheckAddr(ap.Addr()); err != nil {
		return fmt.Errorf("calls may not reach %w", err)
	}
	return nil
}

func hostMatches(host string, patterns []string) bool {
	for _, p := range patterns {
		if p == host {
			return true
		}
		if suf, ok := strings.CutPrefix(p, "*."); ok && strings.HasSuffix(host, "."+suf) {
			return true
		}
	}
	return false
}

// Do makes the call and returns its result; it never fails: errors become a
// result with Status 0 and Error set.
func (c *Caller) Do(ctx context.Context, p *engine.Program, req engine.CallRequest) engine.CallResult {
	res := engine.CallResult{ID: req.ID}
	u, err := url.Parse(req.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		res.Error = "bad url"
		return res
	}
	if len(c.policy.AllowHosts) > 0 && !hostMatches(u.Hostname(), c.policy.AllowHosts) {
		res.Error = fmt.Sprintf("host %s is not allowed by the server", u.Hostname())
		return res
	}
	timeout := req.Timeout
	if timeout <= 0 || timeout > 30*time.Second {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if req.Body != nil {
		b, err := json.Marshal(req.Body)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		body = bytes.NewReader(b)
	}
	hr, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	hr.Header.Set("User-Agent", "Playbook/1 (+call card of "+p.ID+")")
	hr.Header.Set("Accept", "application/json")
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	for k, v := range req.Headers {
		if !slices.Contains([]string{"host", "content-length"}, strings.ToLower(k)) {
			hr.Header.Set(k, v)
		}
	}
	resp, err := c.client.Do(hr)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			res.Error = "timeout after " + timeout.String()
		} else {
			res.Error = err.Error()
		}
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.policy.MaxBody))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	if len(data) > 0 {
		var v any
		if json.Unmarshal(data, &v) == nil {
			res.Body = v
		} else {
			res.Body = string(data)
		}
	}
	return res
}
