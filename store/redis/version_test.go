package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/engine"
	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// oldRedis answers INFO as Redis 6.2 would, and passes every other command.
type oldRedis struct{}

func (oldRedis) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (oldRedis) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if cmd.Name() == "info" {
			cmd.(*goredis.StringCmd).SetVal("# Server\r\nredis_version:6.2.14\r\nredis_mode:standalone\r\n")
			return nil
		}
		return next(ctx, cmd)
	}
}
func (oldRedis) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// TestEngineRefusesRedisBefore7: the engine's first Ping (serve's start)
// fails with the version found and the one needed on a Redis older than
// 7.0, instead of a script error on every turn; Redis 7 passes, on one
// node and on a Cluster (miniredis, which refuses INFO server, by the
// PEXPIRE ... GT probe).
func TestEngineRefusesRedisBefore7(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	opt, err := goredis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	old := hookedClient(t, opt, "", "", oldRedis{})
	err = redisstore.NewEngine(old, rds.Prefix).Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "version 6.2.14") || !strings.Contains(err.Error(), "needs Redis 7.0 or later") {
		t.Fatalf("Ping on Redis 6.2: %v, want the version found and the one needed", err)
	}
	real := hookedClient(t, opt, "", "", nil)
	if err := redisstore.NewEngine(real, rds.Prefix).Ping(ctx); err != nil {
		t.Fatalf("Ping on %s: %v", rds.URL, err)
	}
	cl := redistest.NewCluster(t)
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { cc.Close() })
	if err := redisstore.NewEngine(cc, cl.Prefix).Ping(ctx); err != nil {
		t.Fatalf("Ping on the cluster: %v", err)
	}
}

// refusal is an error reply of Redis's (a goredis.Error).
type refusal string

func (e refusal) Error() string { return string(e) }
func (refusal) RedisError()     {}

// refuse answers the commands named (lower case) with their refusal, as a
// Redis whose ACL or version refuses them would, and passes every other.
type refuse map[string]refusal

func (refuse) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r refuse) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if e, ok := r[cmd.Name()]; ok {
			cmd.SetErr(e)
			return e
		}
		return next(ctx, cmd)
	}
}
func (refuse) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

const (
	noINFO    = refusal("NOPERM User pb has no permissions to run the 'info' command")
	noPEXPIRE = refusal("NOPERM User pb has no permissions to run the 'pexpire' command")
	// What Redis 6.2 answers PEXPIRE key 1 GT.
	oldPEXPIRE = refusal("ERR wrong number of arguments for 'pexpire' command")
)

// aclUser makes an ACL user on every node of rdb (a real Redis), with
// every right but the rules given, named after the test's key prefix and
// deleted when t ends, and returns its name and password.
func aclUser(t *testing.T, prefix string, nodes []*goredis.Client, rules ...string) (string, string) {
	t.Helper()
	ctx := context.Background()
	user, pass := "pb-"+strings.TrimSuffix(prefix, ":"), "secret"
	for _, n := range nodes {
		args := append([]any{"ACL", "SETUSER", user, "reset", "on", ">" + pass, "~*", "&*", "+@all"}, anys(rules)...)
		if err := n.Do(ctx, args...).Err(); err != nil {
			if strings.HasPrefix(err.Error(), "NOPERM") {
				t.Skipf("the test makes an ACL user, and the Redis user it runs as may not: %v", err)
			}
			t.Fatalf("ACL SETUSER on %s: %v", n.Options().Addr, err)
		}
		t.Cleanup(func() { n.Do(context.Background(), "ACL", "DELUSER", user) })
	}
	return user, pass
}

func anys(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestEngineOnRedisRefusingINFO: a Redis that refuses INFO (an ACL user
// without INFO or without @dangerous, as managed Redis gives; miniredis,
// which has no INFO server) is Redis 7 still: the engine's first Ping
// passes, by PEXPIRE ... GT, and a turn runs. A Redis that refuses the
// probe too fails with both refusals named, and one that refuses GT as
// Redis 6.2 does, with the version needed.
func TestEngineOnRedisRefusingINFO(t *testing.T) {
	ctx := context.Background()
	rds := redistest.New(t)
	opt, err := goredis.ParseURL(rds.URL)
	if err != nil {
		t.Fatal(err)
	}
	client := func(t *testing.T, user, pass string, hook goredis.Hook) *goredis.Client {
		return hookedClient(t, opt, user, pass, hook)
	}
	for _, rules := range [][]string{{"-info"}, {"-@dangerous"}} {
		t.Run(strings.Join(rules, " "), func(t *testing.T) {
			var c *goredis.Client
			if rds.Mini != nil {
				c = client(t, "", "", nil) // miniredis refuses INFO server itself
			} else {
				user, pass := aclUser(t, rds.Prefix+strings.Trim(rules[0], "-@"), []*goredis.Client{rds.Client}, rules...)
				c = client(t, user, pass, nil)
			}
			if err := c.Info(ctx, "server").Err(); err == nil {
				t.Fatal("INFO server answered: the test needs a Redis that refuses it")
			}
			e := redisstore.NewEngine(c, rds.Prefix)
			if err := e.Ping(ctx); err != nil {
				t.Fatalf("Ping: %v", err)
			}
			if _, err := e.Sessions(store.SessionOptions{}).Create(ctx, &engine.Session{ID: "c-" + rules[0]}, nil); err != nil {
				t.Fatalf("a conversation after Ping: %v", err)
			}
		})
	}
	t.Run("both refused", func(t *testing.T) {
		var c *goredis.Client
		if rds.Mini != nil {
			c = client(t, "", "", refuse{"pexpire": noPEXPIRE})
		} else {
			user, pass := aclUser(t, rds.Prefix+"both", []*goredis.Client{rds.Client}, "-info", "-pexpire")
			c = client(t, user, pass, nil)
		}
		err := redisstore.NewEngine(c, rds.Prefix).Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "refuses INFO server (") || !strings.Contains(err.Error(), "and PEXPIRE ... GT") || !strings.Contains(err.Error(), "'pexpire' command") {
			t.Fatalf("Ping: %v, want both refusals named", err)
		}
		t.Log(err)
	})
	t.Run("Redis 6.2", func(t *testing.T) {
		c := client(t, "", "", refuse{"info": noINFO, "pexpire": oldPEXPIRE})
		err := redisstore.NewEngine(c, rds.Prefix).Ping(ctx)
		if err == nil || !strings.Contains(err.Error(), "older than 7.0") || !strings.Contains(err.Error(), string(oldPEXPIRE)) || !strings.Contains(err.Error(), string(noINFO)) || !strings.Contains(err.Error(), "needs Redis 7.0 or later") {
			t.Fatalf("Ping: %v, want too old, with both refusals", err)
		}
		t.Log(err)
	})
	t.Run("network", func(t *testing.T) {
		c := client(t, "", "", nil)
		c.Close()
		err := redisstore.CheckVersion(ctx, c, rds.Prefix)
		if err == nil || !strings.Contains(err.Error(), "INFO server: redis: client is closed") {
			t.Fatalf("CheckVersion on a closed client: %v, want the INFO error and no probe", err)
		}
	})
}

// TestClusterRefusingINFO: on a Redis Cluster whose ACL refuses INFO every
// master is probed with PEXPIRE ... GT on a key of its own slots (one
// probe each, no MOVED), and a master that refuses GT as Redis 6.2 does
// fails the Ping with its address.
func TestClusterRefusingINFO(t *testing.T) {
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	var nodes []*goredis.Client
	var mu sync.Mutex
	if err := cl.Client.ForEachShard(ctx, func(ctx context.Context, n *goredis.Client) error {
		mu.Lock()
		nodes = append(nodes, n)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	user, pass := aclUser(t, cl.Prefix, nodes, "-info")
	connect := func(t *testing.T, onNode func(*goredis.Client)) *goredis.ClusterClient {
		return connectAs(t, cl.Addrs, user, pass, onNode)
	}

	probes := map[string][]string{} // master address -> replies to PEXPIRE
	cc := connect(t, func(n *goredis.Client) {
		n.AddHook(recordPEXPIRE(func(err error) {
			mu.Lock()
			probes[n.Options().Addr] = append(probes[n.Options().Addr], fmt.Sprint(err))
			mu.Unlock()
		}))
	})
	if err := redisstore.NewEngine(cc, cl.Prefix).Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	masters := 0
	cc.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters++
		if got := probes[n.Options().Addr]; len(got) != 1 || got[0] != "<nil>" {
			t.Errorf("master %s: PEXPIRE replies %q, want one, no error", n.Options().Addr, got)
		}
		return nil
	})
	if masters < 3 {
		t.Fatalf("%d masters", masters)
	}

	// One master (the first the slot map names) answers as Redis 6.2.
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	old := slots[0].Nodes[0].Addr
	cc2 := connect(t, func(n *goredis.Client) {
		if n.Options().Addr == old {
			n.AddHook(refuse{"pexpire": oldPEXPIRE})
		}
	})
	err = redisstore.NewEngine(cc2, cl.Prefix).Ping(ctx)
	if err == nil || !strings.Contains(err.Error(), "Redis at "+old+" is older than 7.0") {
		t.Fatalf("Ping with %s as Redis 6.2: %v", old, err)
	}
}

// TestClusterWithoutDangerous: a Redis Cluster user without the ACL
// category @dangerous (INFO and ROLE are in it) can run the engine: Ping
// passes (the version by PEXPIRE ... GT; that each master is a master
// still, by CLUSTER NODES) and a conversation is stored.
func TestClusterWithoutDangerous(t *testing.T) {
	ctx := context.Background()
	cl := redistest.NewCluster(t)
	var nodes []*goredis.Client
	var mu sync.Mutex
	if err := cl.Client.ForEachShard(ctx, func(ctx context.Context, n *goredis.Client) error {
		mu.Lock()
		nodes = append(nodes, n)
		mu.Unlock()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	user, pass := aclUser(t, cl.Prefix+"nd", nodes, "-@dangerous")
	cc := connectAs(t, cl.Addrs, user, pass, func(*goredis.Client) {})
	e := redisstore.NewEngine(cc, cl.Prefix)
	if err := e.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := redisstore.Ready(ctx, cc); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	if _, err := e.Sessions(store.SessionOptions{}).Create(ctx, &engine.Session{ID: "c-nd"}, nil); err != nil {
		t.Fatalf("a conversation after Ping: %v", err)
	}
}

// connectAs is a client of the Cluster at addrs as user, with onNode
// called on each node's client as it is made.
func connectAs(t *testing.T, addrs []string, user, pass string, onNode func(*goredis.Client)) *goredis.ClusterClient {
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs, Username: user, Password: pass})
	t.Cleanup(func() { cc.Close() })
	cc.OnNewNode(onNode)
	return cc
}

// recordPEXPIRE calls seen with the reply of every PEXPIRE.
type recordPEXPIRE func(error)

func (recordPEXPIRE) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (r recordPEXPIRE) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		err := next(ctx, cmd)
		if cmd.Name() == "pexpire" {
			r(err)
		}
		return err
	}
}
func (recordPEXPIRE) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return next
}

// hookedClient is a client of opt's Redis as user (none: opt's), with
// hook (if any), closed when t ends.
func hookedClient(t *testing.T, opt *goredis.Options, user, pass string, hook goredis.Hook) *goredis.Client {
	o := *opt
	if user != "" {
		o.Username, o.Password = user, pass
	}
	c := goredis.NewClient(&o)
	t.Cleanup(func() { c.Close() })
	if hook != nil {
		c.AddHook(hook)
	}
	return c
}
