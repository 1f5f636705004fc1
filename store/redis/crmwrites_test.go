package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// monitor is a MONITOR connection: every command Redis runs, the
// commands scripts run included, one line each.
type monitor struct {
	conn  net.Conn
	lines *bufio.Reader
	// prefix is the test's keys': a command with no argument that starts
	// with it is another test's or package's on the same Redis, left out.
	prefix string
}

// realRedis is a real Redis for a test that needs one for what it says
// (it skips on miniredis): its own client and the test's key prefix.
func realRedis(t *testing.T, what string) (context.Context, *goredis.Client, string) {
	t.Helper()
	rds := redistest.New(t)
	rds.NeedsReal(t, what)
	rdb := goredis.NewClient(rds.Client.Options())
	t.Cleanup(func() { rdb.Close() })
	return context.Background(), rdb, rds.Prefix
}

// monitoredRedis is realRedis for a test that watches it with MONITOR,
// the scripts loaded.
func monitoredRedis(t *testing.T) (context.Context, *goredis.Client, string) {
	t.Helper()
	ctx, rdb, p := realRedis(t, "MONITOR")
	if err := redisstore.LoadScripts(ctx, rdb); err != nil {
		t.Fatal(err)
	}
	return ctx, rdb, p
}

func startMonitor(t *testing.T, addr, prefix string) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &monitor{conn: conn, lines: bufio.NewReader(conn), prefix: prefix}
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := m.lines.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("MONITOR: %q, %v", line, err)
	}
	return m
}

// until returns the commands (their arguments unquoted) monitored up to
// the first whose arguments are end, which it leaves out.
func (m *monitor) until(t *testing.T, end ...string) [][]string {
	t.Helper()
	var out [][]string
	for _, c := range m.untilFrom(t, end...) {
		out = append(out, c.args)
	}
	return out
}

// monitored is a command MONITOR saw: who ran it ("lua" for a script's
// own commands, else the client's address) and its arguments.
type monitored struct {
	from string
	args []string
}

// untilFrom is until with who ran each command.
func (m *monitor) untilFrom(t *testing.T, end ...string) []monitored {
	t.Helper()
	_ = m.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out []monitored
	for {
		line, err := m.lines.ReadString('\n')
		if err != nil {
			t.Fatalf("MONITOR: %v after %d commands", err, len(out))
		}
		head, rest, _ := strings.Cut(line, "] ")
		_, from, _ := strings.Cut(head, " [")
		if _, addr, ok := strings.Cut(from, " "); ok {
			from = addr
		}
		args := monitorArgs(strings.TrimRight(rest, "\r\n"))
		if len(args) > 0 && strings.EqualFold(strings.Join(args, "\x00"), strings.Join(end, "\x00")) {
			return out
		}
		if slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, m.prefix) }) {
			out = append(out, monitored{from: from, args: args})
		}
	}
}

// monitorArgs splits a MONITOR line's quoted arguments ("a" "b\"c").
func monitorArgs(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			return out
		}
		s = s[i+1:]
		var b strings.Builder
		for len(s) > 0 && s[0] != '"' {
			if s[0] == '\\' && len(s) > 1 {
				if s[1] == 'x' && len(s) > 3 {
					var c byte
					fmt.Sscanf(s[2:4], "%02x", &c)
					b.WriteByte(c)
					s = s[4:]
					continue
				}
				switch s[1] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				default:
					b.WriteByte(s[1])
				}
				s = s[2:]
				continue
			}
			b.WriteByte(s[0])
			s = s[1:]
		}
		out = append(out, b.String())
		if len(s) > 0 {
			s = s[1:]
		}
	}
}

// TestCRMChangeWritesEachKeyOnce: on one node a change's script (one
// round trip, all of it or nothing) writes each key it changes once, with
// one command a key at most (a feed's members with NX and without, one
// each): the idempotency key only its done value (no plan: nothing runs
// between the claim and the mark), a new record only its final form (no
// pending form), records, index entries and chats in one MSET, a
// conversation's memory in one HSET, a feed's or a list's or the results'
// members in one ZADD (with NX or without), and it reads only the key and
// what it compares, in one MGET.
func TestCRMChangeWritesEachKeyOnce(t *testing.T) {
	rds := redistest.New(t)
	if !redistest.Real() {
		t.Skip("needs a real Redis: MONITOR")
	}
	ctx := context.Background()
	c := redisstore.NewCRM(rds.Client, rds.Prefix)
	// Warm: the script loaded.
	if _, err := c.Apply(ctx, &store.CRMChange{Conv: []store.ConvField{{Conv: "c0", Field: "f", Value: "v"}}}); err != nil {
		t.Fatal(err)
	}
	email, domain := store.IndexKey("email", "ada@acme.io"), store.IndexKey("domain", "acme.io")
	ch := &store.CRMChange{Key: "k1", Done: `{"r":"lea_1","p":"per_1","o":"org_1"}`, Planned: time.Now().UnixMilli(),
		Records: []store.CAS{{Name: "org_1", New: `{"id":"org_1"}`}, {Name: "per_1", New: `{"id":"per_1"}`}, {Name: "lea_1", New: `{"id":"lea_1"}`}},
		Indexes: []store.CAS{{Name: email, New: "per_1"}, {Name: domain, New: "org_1"}},
		Listed:  []store.Listed{{Kind: "organization", ID: "org_1", Ms: 1}, {Kind: "person", ID: "per_1", Ms: 1}, {Kind: "lead", ID: "lea_1", Ms: 1}},
		Conv: []store.ConvField{{Conv: "c1", Field: "person", Value: "per_1"}, {Conv: "c1", Field: "organization", Value: "org_1"},
			{Conv: "c1", Field: "lead", Value: "lea_1"}, {Conv: "c1", Field: "person", Value: "per_1"}},
		Results: []store.ConvResult{{Conv: "c1", ID: "org_1", Score: 1000}, {Conv: "c1", ID: "per_1", Score: 1001}, {Conv: "c1", ID: "lea_1", Score: 1002}},
		Feeds: []store.FeedAdd{{Owner: "per_1", Member: "r:lea_1", Ms: 1}, {Owner: "org_1", Member: "r:lea_1", Ms: 1},
			{Owner: "org_1", Member: "r:per_1", Ms: 1}, {Owner: "per_1", Member: "c:c1", Ms: 1, NX: true}},
		Chats:   []store.Chat{{Conv: "c1", JSON: `{"playbook":"qualify"}`}},
		Publish: []store.Message{{Channel: rds.Prefix + "inbox", Payload: "records"}},
	}
	mon := startMonitor(t, rds.Client.Options().Addr, rds.Prefix)
	if dup, err := c.Apply(ctx, ch); err != nil || dup != "" {
		t.Fatalf("apply = %q, %v", dup, err)
	}
	end := rds.Prefix + "end"
	if err := rds.Client.Get(ctx, end).Err(); err != nil && err != goredis.Nil {
		t.Fatal(err)
	}
	var inScript [][]string
	for _, cmd := range mon.until(t, "GET", end) {
		if len(cmd) > 1 && strings.HasPrefix(cmd[1], rds.Prefix) {
			inScript = append(inScript, cmd)
		}
	}
	// Each key's writes: a command's whole arguments, or for SET and
	// MSET the value it sets.
	writes := map[string][][]string{}
	var lines []string
	var reads [][]string
	for _, cmd := range inScript {
		lines = append(lines, strings.Join(cmd, " "))
		switch name := strings.ToUpper(cmd[0]); name {
		case "GET", "MGET":
			reads = append(reads, cmd[1:])
		case "SET", "MSET":
			for i := 1; i+1 < len(cmd); i += 2 {
				writes[cmd[i]] = append(writes[cmd[i]], []string{name, cmd[i+1]})
				if name == "SET" {
					break
				}
			}
		default:
			key := cmd[1]
			if len(cmd) > 2 && cmd[2] == "NX" {
				key += " NX"
			}
			writes[key] = append(writes[key], cmd)
		}
	}
	t.Logf("the change's commands:\n  %s", strings.Join(lines, "\n  "))
	for key, ws := range writes {
		if len(ws) != 1 {
			t.Errorf("%s written by %d commands: %q", key, len(ws), ws)
		}
	}
	var idem [][]string
	for key, ws := range writes {
		if strings.Contains(key, "{k:") {
			idem = ws
		}
	}
	if len(idem) != 1 || idem[0][1] != "d"+ch.Done {
		t.Errorf("the idempotency key's writes %q, want its done value only", idem)
	}
	for _, r := range ch.Records {
		ws := writes[rds.Prefix+"{r:"+r.Name+"}"]
		if len(ws) != 1 || ws[0][1] != r.New {
			t.Errorf("record %s's writes %q, want its final form only", r.Name, ws)
		}
	}
	// One read: the key, 3 new records, 2 index entries.
	wantRead := []string{rds.Prefix + "{k:", rds.Prefix + "{r:org_1}", rds.Prefix + "{r:per_1}", rds.Prefix + "{r:lea_1}", rds.Prefix + "{i:", rds.Prefix + "{i:"}
	if len(reads) != 1 || len(reads[0]) != len(wantRead) {
		t.Errorf("reads %q, want one of the key, the records and the index entries", reads)
	} else {
		for i, k := range reads[0] {
			if !strings.HasPrefix(k, wantRead[i]) {
				t.Errorf("read %d is of %s, want %s...", i, k, wantRead[i])
			}
		}
	}
	// 12 commands: the MGET; the MSET of 3 records, 2 index entries and
	// the chat; 3 lists' ZADD, the memory's HSET, the results' ZADD, 3
	// feeds' (2 without NX, 1 with); the PUBLISH; the done mark's SET.
	// Each key was written by a command of its own before: 22 commands.
	if len(inScript) != 12 {
		t.Errorf("%d commands on the change's keys, want 12", len(inScript))
	}
	if m, _, err := c.Conversation(ctx, "c1"); err != nil || m["person"] != "per_1" || m["organization"] != "org_1" || m["lead"] != "lea_1" {
		t.Errorf("conversation memory %v, %v", m, err)
	}
	if res, err := c.Results(ctx, "c1", 10); err != nil || fmt.Sprint(res) != "[org_1 per_1 lea_1]" {
		t.Errorf("results = %v, %v", res, err)
	}
	if feed, err := c.Feed(ctx, "org_1", 10); err != nil || len(feed) != 2 {
		t.Errorf("the organization's feed = %v, %v", feed, err)
	}
	if feed, err := c.Feed(ctx, "per_1", 10); err != nil || len(feed) != 2 {
		t.Errorf("the person's feed = %v, %v", feed, err)
	}
}

// TestCRMLeadIsOneScriptOfFewArguments: the bench's lead (BenchmarkCRMLead's:
// a new organization, person and lead, the chat in the person's feed, the
// inbox's record message), created through crm.Store on one node, is one
// EVALSHA whose arguments name each string once (ids, times, the
// conversation; the keys made from them in the script), running one command
// a key at most: the reads in one MGET, the records, index entries and chat
// in one MSET. What Redis spends on a script grows with both: about 1.5 k
// instructions an argument, 3 to 6 k a command.
func TestCRMLeadIsOneScriptOfFewArguments(t *testing.T) {
	rds := redistest.New(t)
	if !redistest.Real() {
		t.Skip("needs a real Redis: MONITOR")
	}
	ctx := context.Background()
	c := redisstore.NewCRM(rds.Client, rds.Prefix)
	lead := benchLead(c, rds.Prefix, "t")
	if err := lead(ctx, -1); err != nil { // the script loaded
		t.Fatal(err)
	}
	mon := startMonitor(t, rds.Client.Options().Addr, rds.Prefix)
	if err := lead(ctx, 0); err != nil {
		t.Fatal(err)
	}
	end := rds.Prefix + "end"
	if err := rds.Client.Get(ctx, end).Err(); err != nil && err != goredis.Nil {
		t.Fatal(err)
	}
	var scripts [][]string
	var inScript []string
	for _, cmd := range mon.untilFrom(t, "GET", end) {
		switch {
		case cmd.from == "lua":
			inScript = append(inScript, strings.Join(cmd.args, " "))
		case strings.EqualFold(cmd.args[0], "evalsha"):
			scripts = append(scripts, cmd.args)
		}
	}
	if len(scripts) != 1 {
		t.Fatalf("%d scripts for a lead's change, want 1: %q", len(scripts), scripts)
	}
	// EVALSHA, its hash, the number of keys, then the keys and arguments.
	args := scripts[0][3:]
	t.Logf("the change's %d arguments: %q", len(args), args)
	t.Logf("its %d commands:\n  %s", len(inScript), strings.Join(inScript, "\n  "))
	seen := map[string]bool{}
	for _, a := range args {
		if seen[a] && a != "" {
			t.Errorf("%q passed twice", a)
		}
		seen[a] = true
	}
	// 28 strings (the key prefix; the idempotency key, its keep and done
	// value; 3 ids and 3 records; 2 index entries' keys; ""; 3 kinds, which
	// are the memory's fields too; the lists' and feeds' time, the
	// conversation, 3 results' scores; 3 feed members and the chat's time;
	// the chat; the message's channel and payload) and what says which is
	// which. 94 before (15 keys, 79 arguments).
	if len(args) > 30 {
		t.Errorf("%d arguments for the bench's lead, want at most 30", len(args))
	}
	// MGET (the key, 3 records, 2 index entries), MSET (3 records, 2 index
	// entries, the chat), 3 lists' ZADD, the memory's HSET, the results'
	// ZADD, 2 feeds' ZADD NX (the person's: the lead and the chat, both
	// new to it; the organization's: the person and the lead), PUBLISH,
	// the done mark's SET. 22 before (6 GETs, 6 SETs); 12 before the
	// person's feed took the lead with NX (a ZADD with NX and one without).
	if len(inScript) != 11 {
		t.Errorf("%d commands in the change's script, want 11", len(inScript))
	}
	feeds := 0
	for _, cmd := range inScript {
		if strings.HasPrefix(cmd, "ZADD ") && strings.Contains(cmd, "}:feed ") {
			feeds++
			if !strings.Contains(cmd, "}:feed NX ") {
				t.Errorf("a feed's ZADD without NX: %s", cmd)
			}
		}
	}
	if feeds != 2 {
		t.Errorf("%d feeds' ZADDs, want 2 (the person's and the organization's)", feeds)
	}
}
