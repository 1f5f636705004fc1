package netpolicy

import (
	"net/netip"
	"strings"
	"testing"
)

func TestCheckAddr(t *testing.T) {
	refused := []string{
		"0.0.0.0", "0.1.2.3", "10.1.2.3", "100.64.0.1", "100.127.255.254", "127.0.0.1", "169.254.169.254", "172.16.0.1",
		"192.0.0.8", "192.0.2.1", "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255", "198.51.100.7",
		"203.0.113.9", "224.0.0.1", "240.0.0.1", "255.255.255.255",
		"::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "64:ff9b::7f00:1", "64:ff9b::808:808", "64:ff9b:1::1", "100::1",
		"2001::1", "2001:db8::1", "2002:7f00:1::1", "2002:808:808::1", "fc00::1", "fd12:3456::1", "fe80::1", "fe80::1%eth0", "ff02::1",
	}
	for _, s := range refused {
		if err := CheckAddr(netip.MustParseAddr(s)); err == nil {
			t.Errorf("%s: allowed, want refused", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001::200e"} {
		if err := CheckAddr(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s: %v, want allowed", s, err)
		}
	}
	if err := CheckAddr(netip.MustParseAddr("169.254.169.254")); err == nil || !strings.Contains(err.Error(), "metadata") {
		t.Errorf("169.254.169.254: %v, want it named the metadata service", err)
	}
}

func TestCheckHost(t *testing.T) {
	for _, h := range []string{"localhost", "LOCALHOST.", "api.localhost", "metadata.google.internal", "metadata", "db.internal",
		"*.internal", "printer.local", "169.254.169.254", "[::1]", "100.64.1.1", "nas.home.arpa"} {
		if CheckHost(h) == nil {
			t.Errorf("%s: no warning", h)
		}
	}
	for _, h := range []string{"api.example.com", "*.example.com", "internal.example.com", "8.8.8.8", "localhost.example.com"} {
		if err := CheckHost(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}
