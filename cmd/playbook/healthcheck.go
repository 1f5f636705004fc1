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
	usage:   "healthcheck [--addr 127.0.0.1:8080] [--timeout 3s] [--live]",
	help: `Asks the serve process listening on --addr whether it is ready: GET
/readyz, which answers 200 when its store answers and it is not shutting
down. Exits 0 when ready, 1 when not (or when nothing answers). It reads
--addr from PLAYBOOK_ADDR and the config file as serve does, so in a
container it needs no options:

  HEALTHCHECK CMD ["playbook", "healthcheck"]

With --live it asks GET /livez instead, which answers 200 while the
process serves HTTP, whatever the store says: for an orchestrator that
restarts what fails its check, so that a Redis outage does not restart
every process.

An address that listens on every interface (0.0.0.0:8080, :8080) is
asked on loopback.
`,
	config: &configSpec{flags: []string{"addr"}},
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		addr := fs.String("addr", "127.0.0.1:8080", "the address serve listens on (its --addr)")
		timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
		live := fs.Bool("live", false, "ask /livez (the process serves) instead of /readyz (it can serve visitors)")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageError("healthcheck takes no arguments")
			}
			path, word := "/readyz", "ready"
			if *live {
				path, word = "/livez", "live"
			}
			url, err := healthURL(*addr, path)
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
				return failf("not %s: %v", word, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			if resp.StatusCode != http.StatusOK {
				return failf("not %s: %s answered %s: %s", word, url, resp.Status, body)
			}
			fmt.Fprintf(std.out, "%s: %s\n", word, url)
			return nil
		}
	},
}

// healthURL is serve's path (/readyz, /livez) for its --addr; an address
// of every interface is asked on loopback.
func healthURL(addr, path string) (string, error) {
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
	return "http://" + net.JoinHostPort(host, port) + path, nil
}
