package main

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store/embedded"
)

const goodPlaybook = "playbook: hello\ncards:\n  hi:\n    say: Hello!\n"

func runDoctor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	// Only the options given here (./scripts/test sets PLAYBOOK_REDIS_URL,
	// which doctor, like serve, reads for --redis).
	for _, v := range []string{"PLAYBOOK_REDIS", "PLAYBOOK_REDIS_URL", "PLAYBOOK_REDIS_FILE", "PLAYBOOK_CONFIG", "PLAYBOOK_PLAYBOOKS", "PLAYBOOK_SMTP"} {
		t.Setenv(v, "")
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"doctor"}, args...), nil, &out, &errb)
	return code, out.String() + errb.String()
}

func playbookDir(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.yaml"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDoctorEmbedded(t *testing.T) {
	books := playbookDir(t, goodPlaybook)
	data := filepath.Join(t.TempDir(), "data")

	// A directory serve will make.
	code, out := runDoctor(t, "--data", data, "--playbooks", books)
	if code != 0 || !strings.Contains(out, "does not exist yet; serve will make it") || !strings.Contains(out, "ok    playbooks 1 playbook in ") || !strings.Contains(out, "everything is fine") {
		t.Fatalf("exit %d:\n%s", code, out)
	}

	// A directory the embedded store uses, while it is open.
	db, err := embedded.Open(data, embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, out = runDoctor(t, "--data", data, "--playbooks", books)
	if code != 1 || !strings.Contains(out, "FAIL  store     the data directory "+data+" is in use by another process") || !strings.Contains(out, "1 thing wrong") {
		t.Errorf("locked: exit %d:\n%s", code, out)
	}
	db.Close()
	code, out = runDoctor(t, "--playbooks", books, "--data", data)
	if code != 0 || !strings.Contains(out, "ok    store     the data directory "+data+" can be written and no other process uses it") {
		t.Errorf("closed: exit %d:\n%s", code, out)
	}

	// A file where the directory should be; PLAYBOOK_DATA names it.
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	t.Setenv("PLAYBOOK_DATA", file)
	code, out = runDoctor(t, "--playbooks", books)
	if code != 1 || !strings.Contains(out, "is a file, not a directory") {
		t.Errorf("a file: exit %d:\n%s", code, out)
	}
}

func TestDoctorPlaybooks(t *testing.T) {
	data := t.TempDir()
	bad := playbookDir(t, "playbook: hello\ncards:\n  hi:\n    say: Hello!\n    goto: nowhere\n")
	code, out := runDoctor(t, "--data", data, "--playbooks", bad)
	if code != 1 || !strings.Contains(out, "FAIL  playbooks 1 error in "+bad) || !strings.Contains(out, "hello.yaml:5:") {
		t.Errorf("a bad playbook: exit %d:\n%s", code, out)
	}
	code, out = runDoctor(t, "--data", data, "--playbooks", t.TempDir())
	if code != 1 || !strings.Contains(out, "no playbooks in ") {
		t.Errorf("an empty folder: exit %d:\n%s", code, out)
	}
	code, out = runDoctor(t, "--data", data, "--playbooks", filepath.Join(data, "none"))
	if code != 1 || !strings.Contains(out, "is not a folder of playbooks") {
		t.Errorf("no folder: exit %d:\n%s", code, out)
	}
}

func TestDoctorRedisDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	code, out := runDoctor(t, "--redis", "redis://:hunter2@"+addr+"/0", "--playbooks", playbookDir(t, goodPlaybook), "--timeout", "2s")
	if code != 1 || !strings.Contains(out, "FAIL  store     Redis does not answer at redis://***@"+addr+"/0") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	if strings.Contains(out, "hunter2") {
		t.Errorf("the password is printed:\n%s", out)
	}
}

// Against the Redis and the Redis Cluster ./scripts/test starts.
func TestDoctorRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("the fast tier (-short) has no Redis")
	}
	books := playbookDir(t, goodPlaybook)
	url := os.Getenv("PLAYBOOK_REDIS_URL")
	if url == "" {
		t.Skip("PLAYBOOK_REDIS_URL is not set (run with ./scripts/test)")
	}
	code, out := runDoctor(t, "--redis", url, "--playbooks", books)
	if code != 0 || !strings.Contains(out, "ok    store     Redis answers at ") || !strings.Contains(out, "ok    clock     Redis's clock is within 2s") {
		t.Errorf("Redis: exit %d:\n%s", code, out)
	}
	cluster := os.Getenv("PLAYBOOK_REDIS_CLUSTER")
	if cluster == "" {
		t.Skip("PLAYBOOK_REDIS_CLUSTER is not set (run with ./scripts/test)")
	}
	code, out = runDoctor(t, "--redis", cluster, "--playbooks", books)
	if code != 0 || !strings.Contains(out, "all 16384 slots have a master") || strings.Count(out, "ok    clock") != 3 {
		t.Errorf("Redis Cluster: exit %d:\n%s", code, out)
	}
}

func TestMissingRanges(t *testing.T) {
	c := make([]bool, 10)
	for _, i := range []int{0, 1, 2, 5, 9} {
		c[i] = true
	}
	if got := strings.Join(missingRanges(c), ","); got != "3-4,6-8" {
		t.Errorf("missingRanges = %q", got)
	}
	if got := missingRanges([]bool{true, true}); got != nil {
		t.Errorf("all covered: %q", got)
	}
}

// A mail server that greets and answers EHLO and QUIT, without STARTTLS
// or AUTH.
func TestDoctorSMTP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				conn.Write([]byte("220 test ESMTP\r\n"))
				r := bufio.NewReader(conn)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
					case "EHLO", "HELO":
						conn.Write([]byte("250-test\r\n250 8BITMIME\r\n"))
					case "QUIT":
						conn.Write([]byte("221 bye\r\n"))
						return
					default:
						conn.Write([]byte("502 no\r\n"))
					}
				}
			}()
		}
	}()
	books := playbookDir(t, goodPlaybook)
	data := t.TempDir()
	code, out := runDoctor(t, "--data", data, "--playbooks", books, "--smtp", "smtp://"+l.Addr().String()+"?from=chat@example.com")
	if code != 0 || !strings.Contains(out, "ok    smtp      the mail server "+l.Addr().String()+" answers (without TLS)") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	code, out = runDoctor(t, "--data", data, "--playbooks", books, "--smtp", "smtp://u:p@"+l.Addr().String()+"?from=chat@example.com")
	if code != 1 || !strings.Contains(out, "offers no AUTH") {
		t.Errorf("with a password: exit %d:\n%s", code, out)
	}
}

// A Redis whose clock is 10 s ahead fails the clock check; one in step
// passes. miniredis answers TIME with the time it is given.
func TestDoctorClock(t *testing.T) {
	m := miniredis.RunT(t)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer c.Close()
	m.SetTime(time.Now().Add(10 * time.Second))
	ok, msg := clockCheck(context.Background(), "Redis", c, 2*time.Second)
	if ok || !strings.Contains(msg, "ahead of this machine's (more than 2s)") {
		t.Errorf("10s ahead: %v %q", ok, msg)
	}
	m.SetTime(time.Now().Add(-10 * time.Second))
	if ok, msg := clockCheck(context.Background(), "Redis", c, 2*time.Second); ok || !strings.Contains(msg, "behind") {
		t.Errorf("10s behind: %v %q", ok, msg)
	}
	m.SetTime(time.Now())
	if ok, msg := clockCheck(context.Background(), "Redis", c, 2*time.Second); !ok {
		t.Errorf("in step: %q", msg)
	}
}

// TestDoctorRedisRefusingINFO: doctor says what serve's start finds on a
// Redis that refuses INFO (an ACL user without @dangerous; miniredis):
// Redis 7 is there (PEXPIRE ... GT answers), and when PEXPIRE is refused
// too, both refusals.
func TestDoctorRedisRefusingINFO(t *testing.T) {
	ctx := context.Background()
	books := playbookDir(t, goodPlaybook)
	rds := redistest.New(t)
	withUser := func(t *testing.T, rules ...string) string {
		if rds.Mini != nil {
			return rds.URL // miniredis refuses INFO server itself
		}
		opt, err := redis.ParseURL(rds.URL)
		if err != nil {
			t.Fatal(err)
		}
		user := "pb-" + strings.TrimSuffix(rds.Prefix, ":") + strings.Join(rules, "")
		args := []any{"ACL", "SETUSER", user, "reset", "on", ">secret", "~*", "&*", "+@all"}
		for _, r := range rules {
			args = append(args, r)
		}
		if err := rds.Client.Do(ctx, args...).Err(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rds.Client.Do(context.Background(), "ACL", "DELUSER", user) })
		return "redis://" + user + ":secret@" + opt.Addr
	}
	url := withUser(t, "-@dangerous")
	code, out := runDoctor(t, "--redis", url, "--prefix", rds.Prefix, "--playbooks", books)
	if code != 0 || !strings.Contains(out, "ok    store     Redis answers at ") {
		t.Errorf("INFO refused: exit %d:\n%s", code, out)
	}
	rds.NeedsReal(t, "an ACL that refuses PEXPIRE")
	url = withUser(t, "-info", "-pexpire")
	code, out = runDoctor(t, "--redis", url, "--prefix", rds.Prefix, "--playbooks", books)
	if code != 1 || !strings.Contains(out, "FAIL  store     Redis at ") || !strings.Contains(out, "refuses INFO server (NOPERM") || !strings.Contains(out, "PEXPIRE ... GT, tried in its stead") {
		t.Errorf("INFO and PEXPIRE refused: exit %d:\n%s", code, out)
	}
}
