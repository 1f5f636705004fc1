package bench

import (
	"net"
	"strconv"
	"testing"
)

// A port FreePort hands out is closed again before the child binds it. If
// it came from the kernel's ephemeral range, any outgoing connection made
// meanwhile (a test's Redis client, a browser) may take it as its local
// port, and the child fails with "address already in use" (CI failed so on
// config.txtar). Ports below that range are never given to outgoing
// connections nor to listeners on port 0.
func TestFreePortIsBelowTheEphemeralRange(t *testing.T) {
	lo, _, ok := ephemeralRange()
	if !ok {
		t.Skip("no /proc/sys/net/ipv4/ip_local_port_range")
	}
	seen := map[int]bool{}
	for i := 0; i < 50; i++ {
		port, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if port < 1024 || port >= lo {
			t.Fatalf("FreePort() = %d, not in [1024, %d)", port, lo)
		}
		if seen[port] {
			t.Fatalf("FreePort() handed out %d twice", port)
		}
		seen[port] = true
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatalf("FreePort() = %d, which cannot be bound: %v", port, err)
		}
		l.Close()
	}
}
