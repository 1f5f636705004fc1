package main

import (
	"context"
	"net"
	"syscall"
	"testing"
)

// TestListenKeepAliveOnTheListener: serve's accepted connections have TCP
// keep-alive as Go sets it by default (on; 15 s idle, 15 s between
// probes, 9 probes), inherited from the listening socket instead of set
// on each connection with four setsockopt calls (four system calls a
// visitor's websocket, a conversation, paid). The test tells them apart
// by changing the listening socket's idle time: a connection set up on its
// own would still say 15 s.
func TestListenKeepAliveOnTheListener(t *testing.T) {
	ln, err := listen(context.Background(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	want := map[string][3]int{
		"SO_KEEPALIVE":  {syscall.SOL_SOCKET, syscall.SO_KEEPALIVE, 1},
		"TCP_KEEPIDLE":  {syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 15},
		"TCP_KEEPINTVL": {syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL, 15},
		"TCP_KEEPCNT":   {syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT, 9},
		"TCP_NODELAY":   {syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1},
	}
	check := func(c net.Conn, want map[string][3]int) {
		t.Helper()
		rc, err := c.(*net.TCPConn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		_ = rc.Control(func(fd uintptr) {
			for name, o := range want {
				v, err := syscall.GetsockoptInt(int(fd), o[0], o[1])
				if err != nil || v != o[2] {
					t.Errorf("accepted connection: %s = %d (%v), want %d", name, v, err, o[2])
				}
			}
		})
	}
	accept := func() net.Conn {
		t.Helper()
		dialed := make(chan net.Conn, 1)
		go func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
			}
			dialed <- c
		}()
		c, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if d := <-dialed; d != nil {
			t.Cleanup(func() { d.Close() })
		}
		return c
	}
	check(accept(), want)

	// The listening socket's idle time, changed: a connection accepted
	// now inherits it, unless keep-alive is set again on each one.
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = rc.Control(func(fd uintptr) {
		if err := syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 77); err != nil {
			t.Fatal(err)
		}
	})
	want["TCP_KEEPIDLE"] = [3]int{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE, 77}
	check(accept(), want)
}
