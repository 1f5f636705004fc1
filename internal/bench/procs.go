package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Process is a child process the bench started: a redis-server or a
// `playbook serve`. It dies with the bench (Pdeathsig).
type Process struct {
	Cmd *exec.Cmd
	PID int
	// Log is the file that holds the process's output.
	Log string

	done chan struct{}
	err  error
}

func startProcess(name string, args []string, logPath string, out io.Writer) (*Process, error) {
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Process{Cmd: cmd, PID: cmd.Process.Pid, Log: logPath, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop asks the process to end (SIGINT), waits up to wait, then kills it.
func (p *Process) Stop(wait time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return nil
	case <-time.After(wait):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v; killed", filepath.Base(p.Cmd.Path), wait)
	}
}

// Terminate sends SIGTERM (a graceful stop: serve drains) and waits up to
// wait for the process to exit, then kills it. It returns an error when the
// process had to be killed or did not exit 0.
func (p *Process) Terminate(wait time.Duration) error {
	if p.Exited() {
		return nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(wait):
		_ = p.Cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", filepath.Base(p.Cmd.Path), wait)
	}
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		return fmt.Errorf("%s exited %d after SIGTERM", filepath.Base(p.Cmd.Path), code)
	}
	return nil
}

// Kill ends the process at once (SIGKILL), as a crash would, and waits
// for it.
func (p *Process) Kill() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Kill()
	<-p.done
}

// tail returns the end of the process's log, for error messages.
func (p *Process) tail() string {
	b, err := os.ReadFile(p.Log)
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// RedisServer is a throwaway redis-server on a free loopback port, with no
// persistence.
type RedisServer struct {
	*Process
	URL     string
	Version string
}

// StartRedis starts redis-server (found on $PATH) on a free port of
// 127.0.0.1, keeping its files and log in dir.
func StartRedis(ctx context.Context, dir string) (*RedisServer, error) {
	return StartRedisWith(ctx, dir, RedisConfig{})
}

// RedisConfig configures StartRedisWith.
type RedisConfig struct {
	// Port to listen on; 0: a free one.
	Port int
	// AOF turns on the append-only file, fsynced at every write, so that
	// a killed redis-server restarted on the same dir loses nothing it
	// acknowledged.
	AOF bool
}

// StartRedisWith is StartRedis with a port and persistence.
func StartRedisWith(ctx context.Context, dir string, cfg RedisConfig) (*RedisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not installed: install it (apt-get install redis-server) or pass --redis URL or --embedded")
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := cfg.Port
		if port == 0 {
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		}
		logPath := filepath.Join(dir, "redis.log")
		persist := []string{"--appendonly", "no"}
		if cfg.AOF {
			persist = []string{"--appendonly", "yes", "--appendfsync", "always"}
		}
		p, err := startProcess(bin, append([]string{
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port),
			"--save", "", "--dir", dir, "--logfile", logPath,
			"--daemonize", "no", "--maxclients", "20000",
		}, persist...), logPath, io.Discard)
		if err != nil {
			return nil, err
		}
		url := "redis://127.0.0.1:" + strconv.Itoa(port)
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && !p.Exited() && ctx.Err() == nil {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			info, err := c.Info(pctx, "server").Result()
			cancel()
			if err == nil {
				c.Close()
				return &RedisServer{Process: p, URL: url, Version: infoField(info, "redis_version")}, nil
			}
			lastErr = err
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
		_ = p.Stop(2 * time.Second)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		lastErr = fmt.Errorf("redis-server did not start: %v\n%s", lastErr, p.tail())
	}
	return nil, lastErr
}

func infoField(info, key string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), key+":"); ok {
			return v
		}
	}
	return ""
}

// RedisVersion asks a Redis for its version ("" if it does not say).
func RedisVersion(ctx context.Context, c redis.UniversalClient) string {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return ""
	}
	return infoField(info, "redis_version")
}

// FreePort is a TCP port free on 127.0.0.1 now, for a child process to
// bind later. It is taken below the kernel's ephemeral range where there
// is one: between FreePort's check and the child's bind, a port of that
// range may become the local port of any outgoing connection (or of a
// listener on port 0), and the child would fail with "address already in
// use". Below it only another chooser of fixed ports can take it, and
// FreePort never hands out the same port twice in one process.
func FreePort() (int, error) {
	if lo, _, ok := ephemeralRange(); ok && lo-freePortFloor >= 1000 {
		freePorts.Lock()
		defer freePorts.Unlock()
		for range 200 {
			port := freePortFloor + rand.IntN(lo-freePortFloor)
			if freePorts.given[port] {
				continue
			}
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err != nil {
				continue
			}
			l.Close()
			freePorts.given[port] = true
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// freePortFloor keeps FreePort above the ports servers are usually
// configured on (1024-9999).
const freePortFloor = 10000

var freePorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

// Server is a `playbook serve` child process.
type Server struct {
	*Process
	// URL is where it serves (http://127.0.0.1:PORT).
	URL string
	// DebugURL is its --pprof listener (http://127.0.0.1:PORT), or "".
	DebugURL string
	// EmbeddedRedis is the address of its in-memory store when it runs
	// without --redis.
	EmbeddedRedis string
}

var (
	servingRE  = regexp.MustCompile(`msg=serving url=(http://[^ ]+?)/? `)
	debugRE    = regexp.MustCompile(`msg="debug listener" addr=([^ ]+)`)
	embeddedRE = regexp.MustCompile(`embedded=([0-9.:]+)`)
)

// StartServer runs `exe serve --addr 127.0.0.1:0 args...` and waits until it
// serves. Its log goes to logPath; the address comes from its "serving" log
// line.
func StartServer(ctx context.Context, exe string, args []string, logPath string) (*Server, error) {
	return StartCommand(ctx, exe, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), logPath)
}

// StartCommand runs `exe args...`, a server that logs its "serving" line
// as serve does (such as `playbook bench --reference-server`), and waits
// until it serves.
func StartCommand(ctx context.Context, exe string, args []string, logPath string) (*Server, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	p, err := startProcess(exe, args, logPath, pw)
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &Server{Process: p}
	found := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	go func() {
		<-p.done
		pw.Close()
	}()
	go func() {
		defer f.Close()
		// The lines up to "serving" are read for the addresses; what
		// follows (a line per conversation and per request, under load)
		// is copied to the log as it comes, unread, so that the bench
		// spends no CPU per line on the server's log.
		rd := bufio.NewReaderSize(pr, 64<<10)
		for {
			line, err := rd.ReadString('\n')
			if line != "" {
				f.WriteString(line)
				line = strings.TrimSuffix(line, "\n")
				mu.Lock()
				if m := debugRE.FindStringSubmatch(line); m != nil {
					s.DebugURL = "http://" + m[1]
				}
				if m := embeddedRE.FindStringSubmatch(line); m != nil {
					s.EmbeddedRedis = m[1]
				}
				served := false
				if m := servingRE.FindStringSubmatch(line + " "); m != nil {
					s.URL = m[1]
					served = true
				}
				mu.Unlock()
				if served {
					once.Do(func() { close(found) })
					break
				}
			}
			if err != nil {
				break
			}
		}
		_, _ = io.Copy(f, rd)
	}()
	select {
	case <-found:
	case <-p.done:
		return nil, fmt.Errorf("playbook %s exited: %v\n%s", args[0], p.err, p.tail())
	case <-time.After(30 * time.Second):
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("playbook %s did not start within 30s\n%s", args[0], p.tail())
	case <-ctx.Done():
		_ = p.Stop(5 * time.Second)
		return nil, ctx.Err()
	}
	mu.Lock()
	defer mu.Unlock()
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(hctx, "GET", s.URL+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("playbook serve at %s: %v", s.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		_ = p.Stop(5 * time.Second)
		return nil, fmt.Errorf("playbook serve at %s: /readyz answered %s", s.URL, resp.Status)
	}
	return s, nil
}

// RaiseFileLimit raises this process's open file limit to its hard limit
// (children inherit it) and returns the new soft limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	// Set it even when Go already raised it at startup: only an explicit
	// Setrlimit makes child processes inherit the raised limit.
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// ephemeralRange is the kernel's range of ports for outgoing connections
// and listeners on port 0 (Linux; ok is false elsewhere).
func ephemeralRange() (lo, hi int, ok bool) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	return lo, hi, err1 == nil && err2 == nil && lo <= hi
}
