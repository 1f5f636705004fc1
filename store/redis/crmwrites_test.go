package redis_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
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
}

func startMonitor(t *testing.T, addr string) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	m := &monitor{conn: conn, lines: bufio.NewReader(conn)}
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
	_ = m.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	var out [][]string
	for {
		line, err := m.lines.ReadString('\n')
		if err != nil {
			t.Fatalf("MONITOR: %v after %d commands", err, len(out))
		}
		_, rest, _ := strings.Cut(line, "] ")
		args := monitorArgs(strings.TrimRight(rest, "\r\n"))
		if len(args) > 0 && strings.EqualFold(strings.Join(args, "\x00"), strings.Join(end, "\x00")) {
			return out
		}
		out = append(out, args)
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
// round trip, all of it or nothing) writes each key it changes with one
// command (a feed's members with NX and without, one each): the idempotency key only its done value (no plan: nothing
// runs between the claim and the mark), a new record only its final form
// (no pending form), a conversation's memory in one HSET, a feed's or a
// list's or the results' members in one ZADD (with NX or without), and it
// reads only the key and what it compares.
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
	mon := startMonitor(t, rds.Client.Options().Addr)
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
	writes := map[string][][]string{}
	var lines []string
	for _, cmd := range inScript {
		lines = append(lines, strings.Join(cmd, " "))
		if name := strings.ToUpper(cmd[0]); name != "GET" {
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
	if len(idem) != 1 || idem[0][2] != "d"+ch.Done {
		t.Errorf("the idempotency key's writes %q, want its done value only", idem)
	}
	for _, r := range ch.Records {
		ws := writes[rds.Prefix+"{r:"+r.Name+"}"]
		if len(ws) == 0 || ws[len(ws)-1][2] != r.New || strings.HasPrefix(ws[0][2], "~") {
			t.Errorf("record %s's writes %q, want its final form only", r.Name, ws)
		}
	}
	// 6 reads (the key, 3 new records, 2 index entries), 15 writes (3
	// records, 2 index entries, 3 lists, the memory, the results, 3 feeds:
	// 2 without NX, 1 with, the chat, the done mark) and the PUBLISH.
	if len(inScript) != 22 {
		t.Errorf("%d commands on the change's keys, want 22", len(inScript))
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
