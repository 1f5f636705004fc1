package main

import (
	"context"
	"encoding/json"
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
