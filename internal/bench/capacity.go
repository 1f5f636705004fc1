package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// fileMargin is the open files a bench or serve process needs beyond one
// per connection: Redis connections, listeners, logs, the store.
const fileMargin = 1000

// CheckCapacity says whether this machine can hold conns connections from
// the bench to one serve over loopback: each side needs an open file per
// connection (files: the limit RaiseFileLimit got; serve inherits it), and
// each loopback source address gives the bench one ephemeral port per
// connection to one server port (sources addresses, ports per address from
// /proc/sys/net/ipv4/ip_local_port_range). The error says what to change.
func CheckCapacity(conns, sources int, files uint64) error {
	if need := uint64(conns + fileMargin); files < need {
		return fmt.Errorf("%d connections need about %d open files in the bench and in serve, and the limit here is %d: raise the hard limit (ulimit -Hn as root, LimitNOFILE= in a systemd unit, --ulimit nofile= in Docker)", conns, need, files)
	}
	lo, hi, err := portRange()
	if err != nil {
		return nil // not Linux: the dial errors will say
	}
	if per := hi - lo + 1; sources*per < conns {
		return fmt.Errorf("%d connections to one server port need %d loopback source addresses at %d ephemeral ports each (net.ipv4.ip_local_port_range %d-%d); --sources is %d", conns, (conns+per-1)/per, per, lo, hi, sources)
	}
	return nil
}

func portRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("ip_local_port_range %q", b)
	}
	if lo, err = strconv.Atoi(f[0]); err == nil {
		hi, err = strconv.Atoi(f[1])
	}
	return lo, hi, err
}
