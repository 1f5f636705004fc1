package main

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestWebhooksOnTheEmbeddedStore: without --redis, `playbook webhooks`
// keeps webhooks in the embedded store of --data, where the next process
// (a server) finds them.
func TestWebhooksOnTheEmbeddedStore(t *testing.T) {
	t.Setenv("PLAYBOOK_REDIS_URL", "") // the default of --redis
	dir := filepath.Join(t.TempDir(), "data")
	must := func(want string, args ...string) string {
		t.Helper()
		code, out, errs := playbookRun(t, append(args, "--data", dir)...)
		if code != 0 {
			t.Fatalf("playbook %s: exit %d: %s", strings.Join(args, " "), code, errs)
		}
		if !regexp.MustCompile(want).MatchString(out) {
			t.Fatalf("playbook %s printed %q, want %s", strings.Join(args, " "), out, want)
		}
		return out
	}
	out := must(`^added sub_[a-z2-7]+: https://crm.example.com/hooks for conversation.resolved, record.created\nsecret: whsec_[0-9a-f]+ `,
		"webhooks", "add", "--url", "https://crm.example.com/hooks", "--events", "record.created,conversation.resolved")
	id := regexp.MustCompile(`sub_[a-z2-7]+`).FindString(out)
	must(`(?s)^ID +URL +EVENTS +PENDING +DEAD +SECRET\n`+id+` +https://crm.example.com/hooks +conversation.resolved,record.created +0 +0 +whsec_`, "webhooks", "list")
	must(`no dead deliveries`, "webhooks", "dead")
	must(`replaying 0 deliveries`, "webhooks", "replay", "--all")
	if code, _, errs := playbookRun(t, "webhooks", "add", "--data", dir, "--url", "https://x.example.com", "--events", "record.made"); code == 0 || !strings.Contains(errs, `unknown event "record.made"`) {
		t.Fatalf("a bad event: exit %d, %q", code, errs)
	}
	must(`removed `+id, "webhooks", "remove", id)
	if code, _, errs := playbookRun(t, "webhooks", "remove", "--data", dir, id); code == 0 || !strings.Contains(errs, "no webhook "+id) {
		t.Fatalf("removing it again: exit %d, %q", code, errs)
	}
	must(`no webhooks`, "webhooks", "list")
}
