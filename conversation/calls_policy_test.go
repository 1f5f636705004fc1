package conversation

import (
	"net"
	"testing"
)

// TestCallsRefuseSpecialPurposeAddresses: the dialer's check (run after DNS
// resolution, so rebinding cannot pass it) refuses every special-purpose
// range of the IANA registries, not only loopback and RFC 1918.
func TestCallsRefuseSpecialPurposeAddresses(t *testing.T) {
	c := NewCaller(CallPolicy{})
	for _, a := range []string{
		"100.64.0.1", "100.100.100.200", "169.254.169.254", "0.0.0.0", "192.0.0.170", "192.0.2.10", "198.18.0.1",
		"198.51.100.1", "203.0.113.1", "240.0.0.1", "127.0.0.1", "10.0.0.1",
		"64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "100::1", "2001::1", "2001:db8::1", "2002:7f00:1::1",
		"fd00::1", "fe80::1", "::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
	} {
		network := "tcp4"
		if net.ParseIP(a).To4() == nil {
			network = "tcp6"
		}
		if err := c.checkAddress(network, net.JoinHostPort(a, "443"), nil); err == nil {
			t.Errorf("%s: allowed, want refused", a)
		}
	}
	for _, a := range []string{"8.8.8.8", "2606:4700:4700::1111"} {
		if err := c.checkAddress("tcp", net.JoinHostPort(a, "443"), nil); err != nil {
			t.Errorf("%s: %v, want allowed", a, err)
		}
	}
	open := NewCaller(CallPolicy{AllowPrivate: true})
	if err := open.checkAddress("tcp4", "100.64.0.1:80", nil); err != nil {
		t.Errorf("--allow-private-calls: %v", err)
	}
}
