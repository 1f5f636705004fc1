package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/smtp"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gofrs/flock"
	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/dsl"
	"github.com/playbook-dev/playbook/dsl/source"
	"github.com/playbook-dev/playbook/internal/smtpmail"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

var doctorCommand = &command{
	name:    "doctor",
	summary: "check what serve needs: the store, the playbooks, SMTP and the clock",
	usage:   "doctor [--config FILE] [--data DIR | --redis URL] [--playbooks DIR] [--smtp URL]",
	help: `Checks what playbook serve needs before it starts, with the same options,
environment and config file as serve, and says what is wrong in plain
words:

  - the store: without --redis, that the data directory can be written and
    no other process holds it; with --redis, that Redis answers, and for a
    Redis Cluster that every slot has a master and the cluster says ok;
  - the clock: Redis's TIME (every master's, on a cluster) against this
    machine's, within --max-clock-skew;
  - the playbooks folder: every playbook validates;
  - SMTP, when --smtp is set: the server answers, and takes STARTTLS and
    the user and password when it offers them.

  playbook doctor --config /etc/playbook/playbook.yaml

Exit status: 0 when everything is fine, 1 when something is wrong, 2 when
the command line is wrong.
`,
	config: &configSpec{
		flags:   []string{"redis", "prefix", "data", "playbooks", "smtp"},
		secrets: []string{"redis", "smtp"},
		aliases: map[string]string{"redis": "PLAYBOOK_REDIS_URL"},
	},
	setup: func(fs *flag.FlagSet) func(context.Context, *stdio, []string) error {
		redisURL := fs.String("redis", "", "Redis URL, or the cluster's nodes, as serve's --redis")
		prefix := fs.String("prefix", "pb:", "prefix of every Redis key (serve's --prefix)")
		data := fs.String("data", "data", "without --redis: the data directory (serve's --data)")
		dir := fs.String("playbooks", "playbooks", "the folder of playbooks serve serves")
		smtpURL := fs.String("smtp", "", "serve's --smtp, to check that the mail server answers")
		skew := fs.Duration("max-clock-skew", 2*time.Second, "how far Redis's clock may be from this machine's")
		timeout := fs.Duration("timeout", 5*time.Second, "how long each check may wait for a server")
		return func(ctx context.Context, std *stdio, args []string) error {
			if len(args) > 0 {
				return usageError("doctor takes no arguments")
			}
			d := &doctor{out: std.out, timeout: *timeout}
			if *redisURL != "" {
				d.redis(ctx, *redisURL, *prefix, *skew)
			} else {
				d.dataDir(*data)
			}
			d.playbooks(*dir)
			if *smtpURL != "" {
				d.smtp(ctx, *smtpURL)
			}
			if d.failed > 0 {
				fmt.Fprintf(std.out, "\n%s wrong\n", plural(d.failed, "thing"))
				return errFailed
			}
			fmt.Fprintln(std.out, "\neverything is fine")
			return nil
		}
	},
}

// doctor prints one line per check: "ok" or "FAIL" and what it found.
type doctor struct {
	out     io.Writer
	timeout time.Duration
	failed  int
}

func (d *doctor) ok(what, format string, args ...any) {
	fmt.Fprintf(d.out, "ok    %-9s %s\n", what, fmt.Sprintf(format, args...))
}

func (d *doctor) fail(what, format string, args ...any) {
	d.failed++
	fmt.Fprintf(d.out, "FAIL  %-9s %s\n", what, fmt.Sprintf(format, args...))
}

// dataDir checks the embedded store's directory: it exists (or can be
// made), a file can be written in it, and no process holds its lock.
func (d *doctor) dataDir(dir string) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		parent := filepath.Dir(abs)
		if werr := writable(parent); werr != nil {
			d.fail("store", "the data directory %s does not exist, and serve cannot make it: %v", abs, werr)
			return
		}
		d.ok("store", "the data directory %s does not exist yet; serve will make it in %s", abs, parent)
		return
	case err != nil:
		d.fail("store", "cannot look at the data directory %s: %v", abs, err)
		return
	case !st.IsDir():
		d.fail("store", "the data directory %s is a file, not a directory", abs)
		return
	}
	if err := writable(dir); err != nil {
		d.fail("store", "cannot write in the data directory %s: %v (check its owner and permissions)", abs, err)
		return
	}
	// The embedded store's lock file (store/embedded.Open takes it).
	lock := flock.New(filepath.Join(dir, "LOCK"))
	got, err := lock.TryLock()
	if err != nil {
		d.fail("store", "cannot lock the data directory %s: %v", abs, err)
		return
	}
	if !got {
		d.fail("store", "the data directory %s is in use by another process (a running playbook serve?); one process at a time may use it", abs)
		return
	}
	lock.Unlock()
	d.ok("store", "the data directory %s can be written and no other process uses it", abs)
}

// writable creates and removes a file in dir.
func writable(dir string) error {
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// redis checks that Redis answers and is 7.0 or later (as serve's start
// does: redisstore.CheckVersion, with keys under prefix where INFO is
// refused), a cluster's slot coverage and state, and each master's clock.
func (d *doctor) redis(ctx context.Context, url, prefix string, skew time.Duration) {
	c, err := dialRedis(url)
	if err != nil {
		d.fail("store", "%v", err)
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		d.fail("store", "Redis does not answer at %s: %v", redactURL(url), err)
		return
	}
	if err := redisstore.CheckVersion(ctx, c, prefix); err != nil {
		d.fail("store", "%v", err)
		return
	}
	cc, isCluster := c.(*redis.ClusterClient)
	if !isCluster {
		d.ok("store", "Redis answers at %s", redactURL(url))
		d.clock(ctx, "Redis", c.(*redis.Client), skew)
		return
	}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		d.fail("store", "Redis Cluster at %s does not give its slot map: %v", redactURL(url), err)
		return
	}
	covered := make([]bool, 16384)
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		for i := s.Start; i <= s.End && i < len(covered); i++ {
			covered[i] = true
		}
	}
	missing := missingRanges(covered)
	if len(missing) > 0 {
		d.fail("store", "Redis Cluster at %s has no master for slots %s: keys there cannot be read or written", redactURL(url), strings.Join(missing, ", "))
	} else {
		info, err := cc.ClusterInfo(ctx).Result()
		if err != nil {
			d.fail("store", "Redis Cluster at %s does not answer CLUSTER INFO: %v", redactURL(url), err)
		} else if !strings.Contains(info, "cluster_state:ok") {
			d.fail("store", "Redis Cluster at %s covers every slot but says its state is not ok (a node down or a failover under way?)", redactURL(url))
		} else {
			d.ok("store", "Redis Cluster answers at %s: %d slot ranges, all 16384 slots have a master", redactURL(url), len(slots))
		}
	}
	// Masters answer concurrently: gather, then print in address order.
	var mu sync.Mutex
	type result struct {
		addr string
		ok   bool
		msg  string
	}
	var results []result
	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		addr := m.Options().Addr
		ok, msg := clockCheck(ctx, "Redis "+addr, m, skew)
		mu.Lock()
		results = append(results, result{addr, ok, msg})
		mu.Unlock()
		return nil
	})
	sort.Slice(results, func(i, j int) bool { return results[i].addr < results[j].addr })
	for _, r := range results {
		d.report("clock", r.ok, r.msg)
	}
	if err != nil {
		d.fail("clock", "cannot reach every master to read its clock: %v", err)
	}
}

func (d *doctor) report(what string, ok bool, msg string) {
	if ok {
		d.ok(what, "%s", msg)
	} else {
		d.fail(what, "%s", msg)
	}
}

// clock reports clockCheck of one Redis.
func (d *doctor) clock(ctx context.Context, who string, c *redis.Client, skew time.Duration) {
	ok, msg := clockCheck(ctx, who, c, skew)
	d.report("clock", ok, msg)
}

// clockCheck compares Redis's TIME with this machine's clock, allowing
// for the round trip.
func clockCheck(ctx context.Context, who string, c *redis.Client, skew time.Duration) (bool, string) {
	before := time.Now()
	t, err := c.Time(ctx).Result()
	after := time.Now()
	if err != nil {
		return false, fmt.Sprintf("%s does not tell its time: %v", who, err)
	}
	mid := before.Add(after.Sub(before) / 2)
	diff := t.Sub(mid)
	slack := after.Sub(before) / 2
	if diff.Abs() > skew+slack {
		ahead := "ahead of"
		if diff < 0 {
			ahead = "behind"
		}
		return false, fmt.Sprintf("%s's clock is %s %s this machine's (more than %s): timers, idle expiry and opening hours would be off; sync both clocks (NTP)", who, diff.Abs().Round(time.Millisecond), ahead, skew)
	}
	return true, fmt.Sprintf("%s's clock is within %s of this machine's", who, skew)
}

// missingRanges lists the runs of false in covered as "a-b".
func missingRanges(covered []bool) []string {
	var out []string
	for i := 0; i < len(covered); i++ {
		if covered[i] {
			continue
		}
		j := i
		for j+1 < len(covered) && !covered[j+1] {
			j++
		}
		if i == j {
			out = append(out, fmt.Sprint(i))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", i, j))
		}
		i = j
	}
	return out
}

// redactURL hides the password of a Redis URL (or of each node).
func redactURL(s string) string {
	nodes := strings.Split(s, ",")
	for i, n := range nodes {
		at := strings.LastIndex(n, "@")
		scheme := strings.Index(n, "://")
		if at >= 0 && scheme >= 0 && at > scheme {
			nodes[i] = n[:scheme+3] + "***" + n[at:]
		}
	}
	return strings.Join(nodes, ",")
}

// playbooks validates the folder serve serves.
func (d *doctor) playbooks(dir string) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		d.fail("playbooks", "%s is not a folder of playbooks (--playbooks)", dir)
		return
	}
	set, diags := dsl.LoadPaths(dir)
	if set == nil {
		set = &dsl.Set{}
	}
	diags.Sort()
	if errs := diags.Errs(); len(errs) > 0 {
		var b strings.Builder
		source.Render(&b, set.Files, errs)
		d.fail("playbooks", "%s in %s; serve keeps the previous version of those files, or none:\n%s", plural(len(errs), "error"), dir, indent(b.String()))
		return
	}
	if len(set.Programs) == 0 {
		d.fail("playbooks", "no playbooks in %s (.yaml or .yml files, not .test.yaml)", dir)
		return
	}
	d.ok("playbooks", "%s in %s validate", plural(len(set.Programs), "playbook"), dir)
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "      " + l
	}
	return strings.Join(lines, "\n")
}

// smtp connects to the mail server of --smtp, says hello, and tries
// STARTTLS and the user and password when it offers them.
func (d *doctor) smtp(ctx context.Context, raw string) {
	m, err := smtpmail.New(raw)
	if err != nil {
		d.fail("smtp", "%v", err)
		return
	}
	host, _, _ := net.SplitHostPort(m.Addr)
	dialer := net.Dialer{Timeout: d.timeout}
	conn, err := dialer.DialContext(ctx, "tcp", m.Addr)
	if err != nil {
		d.fail("smtp", "cannot connect to the mail server %s: %v", m.Addr, err)
		return
	}
	conn.SetDeadline(time.Now().Add(d.timeout))
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		d.fail("smtp", "%s does not answer as a mail server: %v", m.Addr, err)
		return
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		d.fail("smtp", "%s refuses the greeting: %v", m.Addr, err)
		return
	}
	tlsOn := false
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host}); err != nil {
			d.fail("smtp", "%s offers STARTTLS but it fails: %v", m.Addr, err)
			return
		}
		tlsOn = true
	}
	if m.Auth != nil {
		if ok, _ := c.Extension("AUTH"); !ok {
			d.fail("smtp", "--smtp has a user and password but %s offers no AUTH", m.Addr)
			return
		}
		if err := c.Auth(m.Auth); err != nil {
			d.fail("smtp", "%s refuses the user and password of --smtp: %v", m.Addr, err)
			return
		}
	}
	c.Quit()
	how := "without TLS"
	if tlsOn {
		how = "with STARTTLS"
	}
	if m.Auth != nil {
		how += ", signed in"
	}
	d.ok("smtp", "the mail server %s answers (%s)", m.Addr, how)
}
