package server

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/labstack/echo/v5"
)

// clientAddress returns how the client's address is found: the
// connection's peer, or, when the peer is one of the trusted proxies, the
// rightmost address of X-Forwarded-For that is not a trusted proxy (echo's
// XFF extractor, which trusts nothing but the ranges given here).
func clientAddress(trusted []string) (echo.IPExtractor, error) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), nil
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, t := range trusted {
		p, err := parseProxy(t)
		if err != nil {
			return nil, err
		}
		_, ipnet, _ := net.ParseCIDR(p.String())
		opts = append(opts, echo.TrustIPRange(ipnet))
	}
	return echo.ExtractIPFromXFFHeader(opts...), nil
}

// parseProxy reads one trusted proxy: a CIDR or a single address.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("trusted proxy %q is not an address or a CIDR such as 10.0.0.0/8", s)
}
