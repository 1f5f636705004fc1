package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/playbook-dev/playbook/crm"
	"github.com/playbook-dev/playbook/internal/redistest"
	redisstore "github.com/playbook-dev/playbook/store/redis"
)

// TestMigrateCommand: a person, its email index and a record.created
// event in the old {crm} layout; `playbook migrate` moves them (the person
// is found by email, the event waits in the outbox) and says so; a second
// run moves nothing. (store/redis TestMigrateLegacyCRM checks every kind
// of key, killed runs and the cluster.)
func TestMigrateCommand(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	p := rds.Prefix
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	per := crm.Record{ID: "per_old1", Kind: crm.KindPerson, Email: "ana@acme.io", CreatedAt: at, UpdatedAt: at}
	rec, _ := json.Marshal(per)
	ev, _ := json.Marshal(crm.Event{ID: "evt_old1", Type: crm.EventRecordCreated, CreatedAt: at, Data: crm.RecordData{Record: &per}})
	pipe := rds.Client.Pipeline()
	pipe.Set(ctx, redisstore.LegacyCRMKey(p, "r:per_old1"), rec, 0)
	pipe.Set(ctx, redisstore.LegacyCRMKey(p, "idx:email:ana@acme.io"), "per_old1", 0)
	pipe.ZAdd(ctx, redisstore.LegacyCRMKey(p, "list:person"), goredis.Z{Score: float64(at.UnixMilli()), Member: "per_old1"})
	pipe.XAdd(ctx, &goredis.XAddArgs{Stream: redisstore.LegacyCRMKey(p, "outbox"), Values: []any{"type", crm.EventRecordCreated, "e", string(ev)}})
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	code, out, errs := playbookRun(t, "migrate", "--redis", rds.URL, "--prefix", p)
	if code != 0 || !strings.Contains(out, "moved 4 keys and 1 webhook events") {
		t.Fatalf("migrate: exit %d, %q, %s", code, out, errs)
	}
	ce := redisstore.NewCRM(rds.Client, p)
	st := crm.New(ce, ce, crm.Options{})
	if got, err := st.PersonByEmail(ctx, "ana@acme.io"); err != nil || got.ID != "per_old1" {
		t.Fatalf("the person after migrate: %+v, %v", got, err)
	}
	if n, err := st.Count(ctx, crm.KindPerson); err != nil || n != 1 {
		t.Fatalf("%d people (%v), want 1", n, err)
	}
	if n, err := st.Outbox(ctx); err != nil || n != 1 {
		t.Fatalf("%d events in the outbox (%v), want 1", n, err)
	}
	code, out, errs = playbookRun(t, "migrate", "--redis", rds.URL, "--prefix", p)
	if code != 0 || !strings.Contains(out, "nothing to move") {
		t.Fatalf("migrate again: exit %d, %q, %s", code, out, errs)
	}
}

// TestServeMigratesTheCRMAtStart: a webhook in the old {crm} layout; serve
// --redis moves it when it starts (the schema key says so) and the webhook
// is there for the new version.
func TestServeMigratesTheCRMAtStart(t *testing.T) {
	rds := redistest.New(t)
	ctx := context.Background()
	p := rds.Prefix
	sub, _ := json.Marshal(crm.Subscription{ID: "sub_old1", URL: "https://crm.example.com/hooks", Events: []string{"*"}, Secret: "whsec_old-old-old-old-old"})
	if err := rds.Client.HSet(ctx, redisstore.LegacyCRMKey(p, "webhooks"), "sub_old1", sub).Err(); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	// exited is closed when serve returns, with its exit code in code: the
	// deferred wait does not hang when serve ended before migrating (it
	// did, to the 10-minute test timeout, when serve could not start).
	exited := make(chan struct{})
	var code int
	var errs strings.Builder
	go func() {
		defer close(exited)
		code = run(sctx, []string{"serve", "--addr", "127.0.0.1:0", "--playbooks", "../../playbooks", "--redis", rds.URL, "--prefix", p}, strings.NewReader(""), io.Discard, &errs)
	}()
	defer func() { stop(); <-exited }()
	deadline := time.Now().Add(30 * time.Second)
	for rds.Client.Get(ctx, p+"schema:crm").Val() != redisstore.CRMSchema {
		select {
		case <-exited:
			t.Fatalf("serve ended (exit %d) before migrating:\n%s", code, errs.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("serve did not migrate the CRM within 30 s")
		}
	}
	ce := redisstore.NewCRM(rds.Client, p)
	subs, err := crm.New(ce, ce, crm.Options{}).Subscriptions(ctx)
	if err != nil || len(subs) != 1 || subs[0].ID != "sub_old1" {
		t.Fatalf("webhooks after serve started: %+v, %v", subs, err)
	}
	if n := rds.Client.Exists(ctx, redisstore.LegacyCRMKey(p, "webhooks")).Val(); n != 0 {
		t.Fatal("the old webhooks key is still there")
	}
}
