// Package netpolicy says which network destinations call cards may not
// reach: every special-purpose address of the IANA registries (loopback,
// private, shared, link-local and cloud metadata, documentation,
// benchmarking, reserved, multicast, NAT64, 6to4, Teredo, IPv4-mapped...)
// and host names that only mean something inside a network (localhost,
// *.internal, metadata.google.internal...). The server checks addresses at
// dial time, after DNS resolution; the playbook checker warns about such
// hosts in allow_hosts.
package netpolicy

import (
	"fmt"
	"net/netip"
	"strings"

	"code.dny.dev/ssrf"
)

// guardian holds the IANA special-purpose registries (IPv4 and IPv6);
// every port is fine, the address decides.
var guardian = ssrf.New(ssrf.WithAnyPort(), ssrf.WithAnyNetwork())

// CheckAddr returns an error when ip is a special-purpose address: not a
// public unicast address of the internet.
func CheckAddr(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("no address")
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		// An IPv4-mapped address reaches the IPv4 address it carries:
		// judge that one, and refuse the mapped form anyway.
		if err := guardian.SafeAddr(ip.Unmap()); err != nil {
			return fmt.Errorf("%s is a special-purpose address (%v)", ip, reason(ip.Unmap()))
		}
		return fmt.Errorf("%s is an IPv4-mapped IPv6 address", ip)
	}
	if err := guardian.SafeAddr(ip); err != nil {
		return fmt.Errorf("%s is a special-purpose address (%v)", ip, reason(ip))
	}
	return nil
}

// reason names the range an address falls in, for people.
func reason(ip netip.Addr) string {
	for _, r := range named {
		if r.p.Contains(ip) {
			return r.name
		}
	}
	return "reserved by IANA"
}

var named = []struct {
	p    netip.Prefix
	name string
}{
	{netip.MustParsePrefix("169.254.169.254/32"), "cloud metadata service"},
	{netip.MustParsePrefix("127.0.0.0/8"), "loopback"},
	{netip.MustParsePrefix("::1/128"), "loopback"},
	{netip.MustParsePrefix("0.0.0.0/8"), "this network"},
	{netip.MustParsePrefix("10.0.0.0/8"), "private network"},
	{netip.MustParsePrefix("172.16.0.0/12"), "private network"},
	{netip.MustParsePrefix("192.168.0.0/16"), "private network"},
	{netip.MustParsePrefix("fc00::/7"), "private network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space, carrier-grade NAT"},
	{netip.MustParsePrefix("169.254.0.0/16"), "link-local"},
	{netip.MustParsePrefix("fe80::/10"), "link-local"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast"},
	{netip.MustParsePrefix("ff00::/8"), "multicast"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
}

// internalNames are host names (or, with a leading dot, suffixes) that
// resolve only inside a network: loopback, cloud metadata, mDNS, and the
// TLDs reserved for private use.
var internalNames = []string{
	"localhost", ".localhost", "metadata", "metadata.google.internal", "instance-data",
	".internal", ".local", ".localdomain", ".home.arpa", ".lan", ".intranet", ".corp", ".private",
}

// CheckHost returns an error, for people, when an allow_hosts entry (a host
// name, "*.suffix", or an address literal) can only reach a special-purpose
// destination: a call to it would be refused.
func CheckHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	h = strings.TrimPrefix(h, "*.")
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return CheckAddr(a)
	}
	for _, n := range internalNames {
		if h == n || (strings.HasPrefix(n, ".") && (strings.HasSuffix(h, n) || h == n[1:])) {
			return fmt.Errorf("%s is a name for the local network or a cloud metadata service", host)
		}
	}
	return nil
}
