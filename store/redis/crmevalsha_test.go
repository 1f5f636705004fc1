package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/internal/redistest"
	"github.com/playbook-dev/playbook/store"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// leadChange is a lead's CRM change under idempotency key key: three new
// records, two index entries, the conversation's fields and results.
func leadChange(key, n string) *store.CRMChange {
	org, per, lea := "org_"+n, "per_"+n, "lea_"+n
	conv := "c" + n
	return &store.CRMChange{Key: key, Done: `{"r":"` + lea + `"}`, Planned: time.Now().UnixMilli(),
		Records: []store.CAS{{Name: org, New: `{"id":"` + org + `"}`}, {Name: per, New: `{"id":"` + per + `"}`}, {Name: lea, New: `{"id":"` + lea + `"}`}},
		Indexes: []store.CAS{{Name: store.IndexKey("email", n+"@acme.io"), New: per}, {Name: store.IndexKey("domain", n+".acme.io"), New: org}},
		Listed:  []store.Listed{{Kind: "lead", ID: lea, Ms: 1}},
		Conv:    []store.ConvField{{Conv: conv, Field: "lead", Value: lea}},
		Results: []store.ConvResult{{Conv: conv, ID: lea, Score: 1}},
	}
}

// TestCRMLeadOnAClusterSendsNoScriptSource: a lead's CRM change on a
// Cluster calls its scripts by hash (EVALSHA), as one node does, not as
// EVAL with the script's source, which Redis parses and hashes each call.
func TestCRMLeadOnAClusterSendsNoScriptSource(t *testing.T) {
	cl := redistest.NewCluster(t)
	if !redistest.Real() {
		t.Skip("needs a real Redis: MONITOR")
	}
	ctx := context.Background()
	if err := redisstore.LoadScripts(ctx, cl.Client); err != nil {
		t.Fatal(err)
	}
	c := redisstore.NewCRM(cl.Client, cl.Prefix)
	var (
		mu      sync.Mutex
		masters []string
	)
	if err := cl.Client.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters = append(masters, n.Options().Addr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mons := make([]*monitor, len(masters))
	for i, addr := range masters {
		mons[i] = startMonitor(t, addr, cl.Prefix)
	}
	if dup, err := c.Apply(ctx, leadChange("k1", "1")); err != nil || dup != "" {
		t.Fatalf("apply = %q, %v", dup, err)
	}
	end := cl.Prefix + "end"
	names := map[string]int{}
	for i, addr := range masters {
		node := goredis.NewClient(&goredis.Options{Addr: addr})
		err := node.Echo(ctx, end).Err()
		node.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, cmd := range mons[i].untilFrom(t, "ECHO", end) {
			if cmd.from != "lua" {
				names[strings.ToLower(cmd.args[0])]++
			}
		}
	}
	if names["eval"] != 0 || names["evalsha"] == 0 {
		t.Errorf("a lead's change sent %d EVAL and %d EVALSHA (every command: %v), want its scripts by hash only", names["eval"], names["evalsha"], names)
	}
}

// TestCRMLeadOnAClusterLoadsForgottenScripts: after the masters forgot
// the scripts (a restart, SCRIPT FLUSH), leads' changes on a Cluster load
// them and are written whole.
func TestCRMLeadOnAClusterLoadsForgottenScripts(t *testing.T) {
	cl := redistest.NewCluster(t)
	ctx := context.Background()
	c := redisstore.NewCRM(cl.Client, cl.Prefix)
	if err := cl.Client.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
		return n.ScriptFlush(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	const leads = 8
	var wg sync.WaitGroup
	errs := make([]error, leads)
	for i := range leads {
		wg.Go(func() {
			_, errs[i] = c.Apply(ctx, leadChange(fmt.Sprint("k", i), fmt.Sprint(i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("lead %d: %v", i, err)
		}
	}
	for i := range leads {
		n := fmt.Sprint(i)
		recs, err := c.Records(ctx, "org_"+n, "per_"+n, "lea_"+n)
		if err != nil {
			t.Fatal(err)
		}
		for j, want := range []string{`{"id":"org_` + n + `"}`, `{"id":"per_` + n + `"}`, `{"id":"lea_` + n + `"}`} {
			if recs[j] != want {
				t.Errorf("lead %d record %d = %q, want %q", i, j, recs[j], want)
			}
		}
	}
}
