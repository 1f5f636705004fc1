//go:build !linux

package main

import "net"

// listenConfig is how serve listens: Go's defaults (TCP keep-alive set on
// each accepted connection). See keepalive_linux.go.
func listenConfig() net.ListenConfig { return net.ListenConfig{} }
