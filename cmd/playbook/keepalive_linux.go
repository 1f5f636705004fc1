package main

import (
	"net"
	"syscall"
)

// listenConfig is how serve listens. Go sets TCP keep-alive on each
// connection it accepts (on; 15 s idle, 15 s between probes, 9 probes),
// four setsockopt system calls per connection, which is per conversation
// for the widget (a websocket each). On Linux an accepted connection
// inherits these from the listening socket: they are set once there, and
// Go sets nothing on the connections but TCP_NODELAY.
func listenConfig() net.ListenConfig {
	return net.ListenConfig{
		KeepAlive: -1, // not per connection: inherited
		Control: func(_, _ string, c syscall.RawConn) error {
			var err error
			cerr := c.Control(func(fd uintptr) {
				for _, o := range [...][3]int{
					{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15},
					{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9},
				} {
					if err == nil {
						err = syscall.SetsockoptInt(int(fd), o[0], o[1], o[2])
					}
				}
			})
			if cerr != nil {
				return cerr
			}
			return err
		},
	}
}
