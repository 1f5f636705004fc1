package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

var healthcheckCommand = &command{
	name:    "healthcheck",
	summary: "ask a running serve process whether it is ready (for container health checks)",
	usage:   "healthcheck [--addr 127.0.0.1:8080] [--timeout 3s]",
	help: `Asks the serve process listening on --addr whether it is ready: GET
/readyz, which answers 200 when its store answers. Exits 0 when ready, 1
when not (or when nothing answers). It reads --addr from PLAYBOOK_ADDR and
the config file as serve does, so in a container it needs no options:

  HEALTHCHECK CMD ["playbook", "healthcheck"]

An address that listens on every interface (0.0.0.0:8080, :8080) is
asked on loopback.
`,
	config: &configSpec{flags: []string{"addr"}},
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		addr := fs.String("addr", "127.0.0.1:8080", "the address serve listens on (its --addr)")
		timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageError("healthcheck takes no arguments")
			}
			url, err := readyURL(*addr)
			if err != nil {
				return usageError("--addr %s: %v", *addr, err)
			}
			ctx, cancel := context.WithTimeout(ctx, *timeout)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return failf("not ready: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			if resp.StatusCode != http.StatusOK {
				return failf("not ready: %s answered %s: %s", url, resp.Status, body)
			}
			fmt.Fprintf(std.out, "ready: %s\n", url)
			return nil
		}
	},
}

// readyURL is serve's /readyz for its --addr; an address of every
// interface is asked on loopback.
func readyURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}
